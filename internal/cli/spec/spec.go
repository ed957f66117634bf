// Package spec reads the files `berth deploy` and `berth run` take: task
// definitions and services in ECS's own field names, as JSON or YAML.
//
// A file is one of:
//
//   - a service spec: {"taskDefinition": {…RegisterTaskDefinition input…},
//     "service": {…CreateService input…}}; its taskDefinition may instead
//     be a string (family, family:revision or ARN) to deploy a revision
//     already registered;
//   - a task definition: a RegisterTaskDefinition input (family,
//     containerDefinitions, …), or what `aws ecs describe-task-definition`
//     prints ({"taskDefinition": {…}, "tags": […]}), whose read-only
//     members (taskDefinitionArn, revision, status, registeredAt, …) are
//     ignored;
//   - a service: a CreateService input (serviceName, taskDefinition as a
//     string, desiredCount, …), as `aws ecs create-service --cli-input-json`
//     takes it.
//
// Members the kind does not have are errors that name them, so a typo is
// not silently dropped. Parse reads one file; Merge puts several together
// (a task definition file and a service file, as in examples/web).
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/berth-io/berth/api/ecs"
)

// Spec is what one or more files ask for.
type Spec struct {
	// TaskDefinition to register; nil when TaskDefinitionRef names one
	// already registered.
	TaskDefinition *ecs.RegisterTaskDefinitionRequest
	// TaskDefinitionRef is a family, family:revision or ARN (service files
	// and service specs that do not carry a task definition).
	TaskDefinitionRef string
	// Service to create or update; nil for a file with only a task
	// definition.
	Service *ecs.CreateServiceRequest
}

// Errors of Merge.
var (
	ErrNoTaskDefinition = errors.New("no task definition: give a task definition file, or a service whose taskDefinition names one")
	ErrTwoTaskDefs      = errors.New("more than one task definition")
	ErrTwoServices      = errors.New("more than one service")
)

// readOnly are the members of a described task definition that
// RegisterTaskDefinition does not take; a file may carry them (the output
// of describe-task-definition) and they are ignored.
type readOnly struct {
	TaskDefinitionArn  json.RawMessage `json:"taskDefinitionArn"`
	Revision           json.RawMessage `json:"revision"`
	Status             json.RawMessage `json:"status"`
	RequiresAttributes json.RawMessage `json:"requiresAttributes"`
	Compatibilities    json.RawMessage `json:"compatibilities"`
	RegisteredAt       json.RawMessage `json:"registeredAt"`
	RegisteredBy       json.RawMessage `json:"registeredBy"`
	DeregisteredAt     json.RawMessage `json:"deregisteredAt"`
	DeleteRequestedAt  json.RawMessage `json:"deleteRequestedAt"`
}

// taskDefFile is a task definition as a file holds it.
type taskDefFile struct {
	ecs.RegisterTaskDefinitionRequest
	readOnly
}

// Parse reads one file's content; name (its path, or "-") picks JSON
// (.json) or YAML (anything else; YAML is a superset of JSON).
func Parse(name string, data []byte) (Spec, error) {
	js, err := toJSON(name, data)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", name, err)
	}
	s, err := parseJSON(js)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func toJSON(name string, data []byte) ([]byte, error) {
	if strings.EqualFold(filepath.Ext(name), ".json") {
		return data, nil
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed) {
		return trimmed, nil
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("read YAML: %w", err)
	}
	return js, nil
}

func parseJSON(js []byte) (Spec, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return Spec{}, fmt.Errorf("not a JSON object: %w", err)
	}
	_, hasService := top["service"]
	td, hasTD := top["taskDefinition"]
	isObject := hasTD && len(bytes.TrimSpace(td)) > 0 && bytes.TrimSpace(td)[0] == '{'
	switch {
	case hasService:
		// A service spec.
		var f struct {
			TaskDefinition json.RawMessage          `json:"taskDefinition"`
			Service        ecs.CreateServiceRequest `json:"service"`
		}
		if err := strict(js, &f); err != nil {
			return Spec{}, err
		}
		s := Spec{Service: &f.Service}
		if err := s.taskDefFrom(f.TaskDefinition); err != nil {
			return Spec{}, err
		}
		if s.TaskDefinition == nil && s.TaskDefinitionRef == "" {
			s.TaskDefinitionRef = f.Service.TaskDefinition
		}
		if f.Service.ServiceName == "" {
			return Spec{}, errors.New("service.serviceName: required")
		}
		return s, nil
	case isObject:
		// describe-task-definition's output.
		var f struct {
			TaskDefinition json.RawMessage `json:"taskDefinition"`
			Tags           []ecs.Tag       `json:"tags"`
		}
		if err := strict(js, &f); err != nil {
			return Spec{}, err
		}
		var s Spec
		if err := s.taskDefFrom(f.TaskDefinition); err != nil {
			return Spec{}, err
		}
		if len(f.Tags) > 0 {
			s.TaskDefinition.Tags = f.Tags
		}
		return s, nil
	case has(top, "serviceName"):
		var svc ecs.CreateServiceRequest
		if err := strict(js, &svc); err != nil {
			return Spec{}, err
		}
		return Spec{Service: &svc, TaskDefinitionRef: svc.TaskDefinition}, nil
	case has(top, "family") || has(top, "containerDefinitions"):
		var s Spec
		if err := s.taskDefFrom(js); err != nil {
			return Spec{}, err
		}
		return s, nil
	}
	return Spec{}, errors.New("neither a task definition (family, containerDefinitions), a service (serviceName) nor a service spec (taskDefinition and service)")
}

func has(m map[string]json.RawMessage, k string) bool { _, ok := m[k]; return ok }

// taskDefFrom sets s's task definition from raw: an object (registered)
// or a string (a reference); absent leaves both unset.
func (s *Spec) taskDefFrom(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		return json.Unmarshal(raw, &s.TaskDefinitionRef)
	}
	var f taskDefFile
	if err := strict(raw, &f); err != nil {
		return fmt.Errorf("taskDefinition: %w", err)
	}
	td := f.RegisterTaskDefinitionRequest
	if td.Family == "" {
		return errors.New("taskDefinition.family: required")
	}
	if len(td.ContainerDefinitions) == 0 {
		return errors.New("taskDefinition.containerDefinitions: required")
	}
	s.TaskDefinition = &td
	return nil
}

// strict decodes js into v, refusing members v does not have.
func strict(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// Merge combines the specs of several files: at most one task definition
// and at most one service. A service file whose taskDefinition names the
// family of the task definition file (family, family:N or its ARN) gets
// the revision about to be registered.
func Merge(specs ...Spec) (Spec, error) {
	var out Spec
	for _, s := range specs {
		if s.TaskDefinition != nil {
			if out.TaskDefinition != nil {
				return Spec{}, ErrTwoTaskDefs
			}
			out.TaskDefinition = s.TaskDefinition
		}
		if s.Service != nil {
			if out.Service != nil {
				return Spec{}, ErrTwoServices
			}
			out.Service = s.Service
		}
		if s.TaskDefinitionRef != "" && s.TaskDefinition == nil {
			out.TaskDefinitionRef = s.TaskDefinitionRef
		}
	}
	if out.TaskDefinition != nil {
		if ref := out.TaskDefinitionRef; ref != "" && Family(ref) != out.TaskDefinition.Family {
			return Spec{}, fmt.Errorf("the service runs task definition %q, the task definition file is family %q", ref, out.TaskDefinition.Family)
		}
		out.TaskDefinitionRef = ""
	}
	if out.TaskDefinition == nil && out.TaskDefinitionRef == "" {
		return Spec{}, ErrNoTaskDefinition
	}
	return out, nil
}

// Family is the family of a task definition reference: family,
// family:revision or an ARN ending in task-definition/family:revision.
func Family(ref string) string {
	ref = ref[strings.LastIndexByte(ref, '/')+1:]
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		ref = ref[:i]
	}
	return ref
}
