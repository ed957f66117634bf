package ecsapi

import (
	"fmt"
	"testing"

	"github.com/berth-io/berth/api/ecs"
)

// BenchmarkDescribeServices measures the operation alone (decode, read,
// count, encode-ready output), without HTTP or SigV4.
func BenchmarkDescribeServices(b *testing.B) {
	s, _ := newTestService(b)
	if _, err := s.CreateCluster(bg, &ecs.CreateClusterRequest{ClusterName: "default"}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.RegisterTaskDefinition(bg, &ecs.RegisterTaskDefinitionRequest{Family: "web", ContainerDefinitions: []ecs.ContainerDefinition{{Name: "web", Image: "img", Memory: ptr[int32](64)}}}); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.CreateService(bg, &ecs.CreateServiceRequest{ServiceName: fmt.Sprintf("svc-%d", i), TaskDefinition: "web", DesiredCount: ptr[int32](2)}); err != nil {
			b.Fatal(err)
		}
	}
	op := s.Ops()["DescribeServices"]
	body := []byte(`{"cluster":"default","services":["svc-3"]}`)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := op(bg, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRegisterTaskDefinition measures a write, fsync included, from
// parallel clients registering different families.
func BenchmarkRegisterTaskDefinition(b *testing.B) {
	s, _ := newTestService(b)
	op := s.Ops()["RegisterTaskDefinition"]
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(4)
	var n int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n++
			body := []byte(fmt.Sprintf(`{"family":"web-%d","containerDefinitions":[{"name":"web","image":"img","memory":64}]}`, n%16))
			if _, err := op(bg, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
