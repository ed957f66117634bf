package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-io/berth/api/ecs"
)

func i32(v int32) *int32 { return &v }
func yes() *bool         { b := true; return &b }

// webTD is the task definition every "web" case below describes.
var webTD = &ecs.RegisterTaskDefinitionRequest{
	Family: "web",
	ContainerDefinitions: []ecs.ContainerDefinition{{
		Name: "web", Image: "process:///bin/web", Memory: i32(64), Essential: yes(),
		PortMappings: []ecs.PortMapping{{ContainerPort: i32(8080)}},
	}},
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, file, body string
		want             Spec
	}{
		{"task definition, JSON", "td.json", `{"family":"web","containerDefinitions":[{"name":"web","image":"process:///bin/web","memory":64,"essential":true,"portMappings":[{"containerPort":8080}]}]}`,
			Spec{TaskDefinition: webTD}},
		{"task definition, YAML", "td.yaml", `
family: web
containerDefinitions:
  - name: web
    image: process:///bin/web
    memory: 64
    essential: true
    portMappings: [{containerPort: 8080}]
`, Spec{TaskDefinition: webTD}},
		{"describe-task-definition output: read-only members ignored", "described.json", `{"taskDefinition":{
			"taskDefinitionArn":"arn:aws:ecs:us-east-1:000000000000:task-definition/web:4","revision":4,"status":"ACTIVE",
			"requiresAttributes":[{"name":"com.amazonaws.ecs.capability.docker-remote-api.1.18"}],"compatibilities":["EC2"],
			"registeredAt":1700000000.123,"registeredBy":"arn:aws:iam::000000000000:root",
			"family":"web","containerDefinitions":[{"name":"web","image":"process:///bin/web","memory":64,"essential":true,"portMappings":[{"containerPort":8080}]}]}}`,
			Spec{TaskDefinition: webTD}},
		{"read-only members on a bare task definition, YAML", "td.yml", `
taskDefinitionArn: arn:aws:ecs:us-east-1:000000000000:task-definition/web:4
revision: 4
status: ACTIVE
registeredAt: 1700000000
family: web
containerDefinitions:
  - {name: web, image: "process:///bin/web", memory: 64, essential: true, portMappings: [{containerPort: 8080}]}
`, Spec{TaskDefinition: webTD}},
		{"service spec, YAML", "svc.yaml", `
taskDefinition:
  family: web
  containerDefinitions:
    - {name: web, image: "process:///bin/web", memory: 64, essential: true, portMappings: [{containerPort: 8080}]}
service:
  serviceName: web
  desiredCount: 3
  healthCheckGracePeriodSeconds: 10
  deploymentConfiguration:
    minimumHealthyPercent: 50
    deploymentCircuitBreaker: {enable: true, rollback: true}
  placementStrategy: [{type: spread, field: "attribute:ecs.availability-zone"}]
`, Spec{TaskDefinition: webTD, Service: &ecs.CreateServiceRequest{
			ServiceName: "web", DesiredCount: i32(3), HealthCheckGracePeriodSeconds: i32(10),
			DeploymentConfiguration: &ecs.DeploymentConfiguration{MinimumHealthyPercent: i32(50), DeploymentCircuitBreaker: &ecs.DeploymentCircuitBreaker{Enable: true, Rollback: true}},
			PlacementStrategy:       []ecs.PlacementStrategy{{Type: "spread", Field: "attribute:ecs.availability-zone"}},
		}}},
		{"service spec naming a registered revision, JSON", "svc.json", `{"taskDefinition":"web:4","service":{"serviceName":"web"}}`,
			Spec{TaskDefinitionRef: "web:4", Service: &ecs.CreateServiceRequest{ServiceName: "web"}}},
		{"create-service input", "service.json", `{"cluster":"demo","serviceName":"web","taskDefinition":"web","desiredCount":2}`,
			Spec{TaskDefinitionRef: "web", Service: &ecs.CreateServiceRequest{Cluster: "demo", ServiceName: "web", TaskDefinition: "web", DesiredCount: i32(2)}}},
		{"JSON in a file without .json", "-", ` {"family":"web","containerDefinitions":[{"name":"web","image":"process:///bin/web","memory":64,"essential":true,"portMappings":[{"containerPort":8080}]}]}`,
			Spec{TaskDefinition: webTD}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.file, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, file, body, want string }{
		{"typo in a task definition", "td.json", `{"family":"web","containerDefinitons":[]}`, `unknown field "containerDefinitons"`},
		{"typo in a container", "td.yaml", "family: web\ncontainerDefinitions: [{name: web, imgae: x}]\n", `unknown field "imgae"`},
		{"typo in a service", "svc.yaml", "taskDefinition: web:1\nservice: {serviceName: web, desiredCont: 2}\n", `unknown field "desiredCont"`},
		{"no family", "td.json", `{"taskDefinition":{"containerDefinitions":[{"name":"a"}]}}`, "taskDefinition.family: required"},
		{"no containers", "td.json", `{"taskDefinition":{"family":"a"}}`, "taskDefinition.containerDefinitions: required"},
		{"service without a name", "svc.json", `{"taskDefinition":"web:1","service":{}}`, "service.serviceName: required"},
		{"neither", "x.json", `{"hello":1}`, "neither a task definition"},
		{"not an object", "x.json", `[1]`, "not a JSON object"},
		{"bad YAML", "x.yaml", "family: [", "read YAML"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.file, []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.file+": ") {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	td := Spec{TaskDefinition: webTD}
	svc := Spec{TaskDefinitionRef: "web", Service: &ecs.CreateServiceRequest{ServiceName: "web", TaskDefinition: "web"}}
	got, err := Merge(td, svc)
	if err != nil {
		t.Fatal(err)
	}
	if got.TaskDefinition != webTD || got.Service != svc.Service || got.TaskDefinitionRef != "" {
		t.Errorf("Merge(task definition, service) = %+v, want both and no reference", got)
	}
	for _, tc := range []struct {
		name  string
		specs []Spec
		want  string
	}{
		{"two task definitions", []Spec{td, td}, ErrTwoTaskDefs.Error()},
		{"two services", []Spec{svc, svc}, ErrTwoServices.Error()},
		{"other family", []Spec{td, {TaskDefinitionRef: "api:3", Service: svc.Service}}, `runs task definition "api:3"`},
		{"nothing to run", []Spec{{Service: &ecs.CreateServiceRequest{ServiceName: "x"}}}, ErrNoTaskDefinition.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(tc.specs...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := Merge(Spec{}); !errors.Is(err, ErrNoTaskDefinition) {
		t.Errorf("Merge(empty) = %v, want ErrNoTaskDefinition", err)
	}
}

func TestFamily(t *testing.T) {
	for in, want := range map[string]string{
		"web": "web", "web:3": "web", "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3": "web",
	} {
		if got := Family(in); got != want {
			t.Errorf("Family(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestExamples: every file under examples/ is a file deploy and run take,
// and examples/web's two files deploy together.
func TestExamples(t *testing.T) {
	var files []string
	for _, pat := range []string{"*/*.json", "*/*.yaml"} {
		m, _ := filepath.Glob(filepath.Join("..", "..", "..", "examples", pat))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	parsed := map[string]Spec{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(f, b)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		parsed[filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)] = s
		if _, err := Merge(s); err != nil {
			t.Errorf("%s alone: %v", f, err)
		}
	}
	web, err := Merge(parsed["web/task-definition.json"], parsed["web/service.json"])
	if err != nil {
		t.Fatalf("examples/web: %v", err)
	}
	if web.TaskDefinition == nil || web.Service == nil || web.Service.ServiceName != "web" {
		t.Errorf("examples/web merged to %+v, want the task definition and service web", web)
	}
}
