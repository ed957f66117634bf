// Package api_test enforces the api packages' boundary: they are public wire
// types and clients, and must never import berth's server code.
package api_test

import (
	"os/exec"
	"strings"
	"testing"
)

func TestAPIImportsNoServerCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "github.com/berth-io/berth/api/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/berth-io/berth/") && !strings.HasPrefix(dep, "github.com/berth-io/berth/api") {
			t.Errorf("an api package depends on %s; api must not import server code", dep)
		}
	}
}
