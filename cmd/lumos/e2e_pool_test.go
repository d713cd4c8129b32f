package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/lumos-edge/lumos/gateway"
)

func status(t *testing.T, c *client, name string) gateway.FunctionStatus {
	t.Helper()
	var st gateway.FunctionStatus
	if err := c.doJSON(context.Background(), http.MethodGet, "/system/function/"+name, nil, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPoolBehaviour(t *testing.T) {
	srv := startTestServer(t, t.TempDir())
	c := adminClient(srv)

	t.Run("prewarm-and-scale", func(t *testing.T) {
		mustDeploy(t, c, "hello-pre", bundled(t, "hello"), nil, map[string]string{"com.openfaas.scale.min": "2"})
		eventually(t, "two instances prewarmed", func() bool { return status(t, c, "hello-pre").AvailableReplicas == 2 })
		if a := invoke(t, srv, "hello-pre", "", nil); a.header.Get("X-Lumos-Start") != "prewarmed" {
			t.Fatalf("first call on a prewarmed pool: %q", a.header.Get("X-Lumos-Start"))
		}
		if a := invoke(t, srv, "hello-pre", "", nil); a.header.Get("X-Lumos-Start") == "cold" {
			t.Fatalf("second call started cold")
		}
		err := c.doJSON(context.Background(), http.MethodPost, "/system/scale-function/hello-pre",
			gateway.ScaleServiceRequest{ServiceName: "hello-pre", Replicas: 0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "scaled to zero", func() bool { return status(t, c, "hello-pre").AvailableReplicas == 0 })
		if a := invoke(t, srv, "hello-pre", "", nil); a.header.Get("X-Lumos-Start") != "cold" {
			t.Fatalf("call after scale to zero: %q", a.header.Get("X-Lumos-Start"))
		}
	})

	t.Run("idle-timeout", func(t *testing.T) {
		mustDeploy(t, c, "hello-idle", bundled(t, "hello"), nil, map[string]string{"com.openfaas.scale.zero-duration": "200ms"})
		if a := invoke(t, srv, "hello-idle", "", nil); a.header.Get("X-Lumos-Start") != "cold" {
			t.Fatalf("first call: %q", a.header.Get("X-Lumos-Start"))
		}
		if a := invoke(t, srv, "hello-idle", "", nil); a.header.Get("X-Lumos-Start") != "warm" {
			t.Fatalf("second call: %q", a.header.Get("X-Lumos-Start"))
		}
		eventually(t, "idle instance reaped", func() bool { return status(t, c, "hello-idle").AvailableReplicas == 0 })
		if a := invoke(t, srv, "hello-idle", "", nil); a.header.Get("X-Lumos-Start") != "cold" {
			t.Fatalf("call after the idle timeout: %q", a.header.Get("X-Lumos-Start"))
		}
	})

	t.Run("cgi-spares", func(t *testing.T) {
		mustDeploy(t, c, "echo-cgi", bundled(t, "echo"), map[string]string{"lumos.abi": "cgi"}, nil)
		invoke(t, srv, "echo-cgi", "", []byte("one"))
		eventually(t, "a cgi instance instantiated ahead of demand", func() bool {
			return invoke(t, srv, "echo-cgi", "", []byte("x")).header.Get("X-Lumos-Start") == "prewarmed"
		})
	})

	t.Run("recycle", func(t *testing.T) {
		mustDeploy(t, c, "hello-recycle", bundled(t, "hello"), map[string]string{"lumos.max_requests": "2"}, nil)
		var kinds []string
		for range 4 {
			kinds = append(kinds, invoke(t, srv, "hello-recycle", "", nil).header.Get("X-Lumos-Start"))
		}
		want := []string{"cold", "warm", "cold", "warm"}
		for i := range want {
			if kinds[i] != want[i] {
				t.Fatalf("start kinds %v, want %v", kinds, want)
			}
		}
	})

	t.Run("discard-after-trap", func(t *testing.T) {
		mustDeploy(t, c, "trap-pool", bundled(t, "trap"), nil, map[string]string{"com.openfaas.scale.max": "1"})
		for range 3 {
			a := invoke(t, srv, "trap-pool", "", nil)
			if a.status != 502 {
				t.Fatalf("trap: %d", a.status)
			}
			if k := a.header.Get("X-Lumos-Start"); k == "warm" {
				t.Fatalf("a trapped instance was reused")
			}
		}
	})
}
