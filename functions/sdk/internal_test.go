package sdk

import "testing"

func TestHeaderName(t *testing.T) {
	tests := []struct{ cgi, want string }{
		{"X_FOO", "X-Foo"},
		{"ACCEPT", "Accept"},
		{"X_FORWARDED_FOR", "X-Forwarded-For"},
		{"user_agent", "User-Agent"},
		{"X__Y", "X--Y"},
		{"WWW_AUTHENTICATE", "Www-Authenticate"},
		{"X1_2A", "X1-2a"},
	}
	for _, tc := range tests {
		if got := headerName(tc.cgi); got != tc.want {
			t.Errorf("headerName(%q) = %q, want %q", tc.cgi, got, tc.want)
		}
	}
}

func TestLookupEnv(t *testing.T) {
	env := []string{"A=1", "AB=2", "A=3", "EMPTY=", "B"}
	tests := []struct {
		key  string
		want string
		ok   bool
	}{
		{"A", "3", true},
		{"AB", "2", true},
		{"EMPTY", "", true},
		{"B", "", false},
		{"C", "", false},
	}
	for _, tc := range tests {
		if got, ok := lookupEnv(env, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("lookupEnv(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{200: "OK", 404: "Not Found", 413: "Content Too Large", 299: "Unknown Status"} {
		if got := statusText(code); got != want {
			t.Errorf("statusText(%d) = %q, want %q", code, got, want)
		}
	}
}
