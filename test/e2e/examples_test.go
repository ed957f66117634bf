package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// TestExamplesAreValid registers every task definition under examples/ and
// creates every service spec there, through the real API, so the files
// people copy stay valid.
func TestExamplesAreValid(t *testing.T) {
	p := startServer(t, serverOptions{})
	if _, err := p.ecs.CreateCluster(ctxT(t), &ecs.CreateClusterInput{ClusterName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../examples/*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	// Task definitions first: the services refer to them.
	var services []string
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(f, "task-definition.json"):
			resp := p.rawDo(t, rawRequest{Op: "RegisterTaskDefinition", Body: body})
			if resp.Status != 200 {
				t.Errorf("%s: RegisterTaskDefinition: HTTP %d %s", f, resp.Status, resp.Body)
			}
		case strings.HasSuffix(f, "service.json"):
			services = append(services, f)
		}
	}
	for _, f := range services {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		resp := p.rawDo(t, rawRequest{Op: "CreateService", Body: body})
		if resp.Status != 200 {
			t.Errorf("%s: CreateService: HTTP %d %s", f, resp.Status, resp.Body)
		}
	}
}
