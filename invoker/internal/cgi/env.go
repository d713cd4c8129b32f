package cgi

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/lumos-edge/lumos/invoker"
)

// envABI tells a guest which ABI it was started with (functions/sdk reads it).
const envABI = "LUMOS_ABI"

// Env builds the CGI/1.1 environment of req (RFC 3875) for the function
// named function, on top of base (the deployment's environment; nil for
// none), sorted as KEY=VALUE. Request headers become HTTP_* variables,
// except Proxy (httpoxy) and the two with variables of their own.
func Env(function string, base map[string]string, req *invoker.Request) []string {
	vars := make(map[string]string, len(base)+len(req.Header)+10)
	maps.Copy(vars, base)
	path := req.Path
	if path == "" {
		path = "/"
	}
	for _, h := range req.Header {
		if strings.ContainsRune(h.Value, 0) {
			continue
		}
		key := HeaderEnvKey(h.Name)
		switch key {
		case "", "HTTP_PROXY":
			continue
		case "HTTP_CONTENT_TYPE":
			vars["CONTENT_TYPE"] = h.Value
			continue
		case "HTTP_CONTENT_LENGTH":
			continue
		}
		if v, ok := vars[key]; ok && strings.HasPrefix(key, "HTTP_") {
			vars[key] = v + ", " + h.Value
		} else {
			vars[key] = h.Value
		}
	}
	vars["GATEWAY_INTERFACE"] = "CGI/1.1"
	vars["SERVER_PROTOCOL"] = "HTTP/1.1"
	vars["SERVER_SOFTWARE"] = "lumos"
	vars["REQUEST_METHOD"] = req.Method
	vars["SCRIPT_NAME"] = "/function/" + function
	vars["PATH_INFO"] = path
	vars["QUERY_STRING"] = req.Query
	vars["CONTENT_LENGTH"] = strconv.Itoa(len(req.Body))
	vars[envABI] = string(invoker.ABICGI)
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// HeaderEnvKey returns HTTP_NAME for a header name, or "" if the name has
// bytes other than letters, digits and '-'. A name with '_' is dropped, as
// nginx and Apache do: X_Forwarded_For would otherwise land in the same
// HTTP_X_FORWARDED_FOR as the X-Forwarded-For a trusted proxy sets.
func HeaderEnvKey(name string) string {
	if name == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(5 + len(name))
	b.WriteString("HTTP_")
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case c == '-':
			b.WriteByte('_')
		default:
			return ""
		}
	}
	return b.String()
}
