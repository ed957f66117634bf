package ecsapi

import (
	"errors"
	"sort"
	"testing"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awserr"
)

// FuzzOps sends arbitrary bodies to every operation berth serves, over a
// store seeded with a cluster, a task definition and an instance. No input
// may panic, every error must be an *awserr.Error (an API error, never a
// leaked internal one), and the store must still answer afterwards.
func FuzzOps(f *testing.F) {
	s, _ := newTestService(f)
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "default"}); err != nil {
		f.Fatal(err)
	}
	ops := s.Ops()
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names)
	seeds := []string{
		`{}`,
		`{"family":"web","containerDefinitions":[{"name":"web","image":"x","memory":128,"portMappings":[{"containerPort":80,"hostPort":0}]}]}`,
		`{"serviceName":"web","taskDefinition":"web","desiredCount":2,"placementConstraints":[{"type":"memberOf","expression":"attribute:ecs.availability-zone in [a, b]"}]}`,
		`{"cluster":"default","taskDefinition":"web:1","count":3}`,
		`{"clusters":["default","nope"],"include":["TAGS"]}`,
		`{"resourceArn":"arn:aws:ecs:us-east-1:123456789012:cluster/default","tags":[{"key":"a","value":"b"}]}`,
		`{"maxResults":0,"nextToken":"!!"}`,
	}
	for i := range names {
		for _, sd := range seeds {
			f.Add(uint8(i), []byte(sd))
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := names[int(op)%len(names)]
		_, err := ops[name](bg, body)
		var e *awserr.Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("%s(%q): error %v is not an API error", name, body, err)
		}
		if _, err := s.ListClusters(bg, &ecs.ListClustersRequest{}); err != nil {
			t.Fatalf("store unusable after %s(%q): %v", name, body, err)
		}
	})
}
