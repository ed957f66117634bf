package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/berth-io/berth/internal/clusterquery"
)

// Helpers shared by the table, property and benchmark tests.

var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// inst returns an eligible instance named id with cpu and memory left, in
// zone az (no zone attribute when az is "").
func inst(id, az string, cpu, mem int32) Instance {
	attrs := map[string]string{"ecs.instance-type": "m5.large"}
	if az != "" {
		attrs["ecs.availability-zone"] = az
	}
	return Instance{
		ARN:      "arn:aws:ecs:us-east-1:123456789012:container-instance/c/" + id,
		ID:       id,
		Eligible: true,
		CPU:      cpu,
		Memory:   mem,
		Facts: clusterquery.Facts{
			Instance:   clusterquery.Instance{EC2InstanceID: "i-" + id, AgentConnected: true},
			Attributes: attrs,
		},
	}
}

// withTasks returns in running n tasks of group (in GroupCounts and in the
// task groups memberOf sees).
func withTasks(in Instance, group string, n int) Instance {
	counts := map[string]int{}
	for g, c := range in.GroupCounts {
		counts[g] = c
	}
	counts[group] += n
	in.GroupCounts = counts
	in.Facts.Groups = append(append([]string(nil), in.Facts.Groups...), group)
	return in
}

// mustParse parses a cluster query expression.
func mustParse(t testing.TB, s string) clusterquery.Expr {
	t.Helper()
	e, err := clusterquery.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return e
}

func memberOf(t testing.TB, s string) Constraint {
	t.Helper()
	return Constraint{Type: ConstraintMemberOf, Expr: mustParse(t, s)}
}

var (
	distinct    = Constraint{Type: ConstraintDistinctInstance}
	spreadAZ    = Strategy{Type: StrategySpread, Field: "attribute:ecs.availability-zone"}
	spreadInst  = Strategy{Type: StrategySpread, Field: FieldInstanceID}
	binpackMem  = Strategy{Type: StrategyBinpack, Field: FieldMemory}
	binpackCPU  = Strategy{Type: StrategyBinpack, Field: FieldCPU}
	randomStrat = Strategy{Type: StrategyRandom}
)

// clusterSpec shapes a generated cluster.
type clusterSpec struct {
	instances int
	// tasksPerInstance is the mean number of existing tasks per instance,
	// spread over groups "service:s0".."service:sN".
	tasksPerInstance int
	groups           int
	// ineligible is the fraction of instances DRAINING or disconnected.
	ineligible float64
	// ports gives existing tasks static host ports 8000-8009 (TCP) and
	// 5000-5004 (UDP), and a few dynamic ones.
	ports bool
}

var instanceTypes = []string{"m5.large", "m5.xlarge", "c5.large", "r5.large", "t3.medium"}

// genCluster builds a random cluster; the same r gives the same cluster.
func genCluster(r *rand.Rand, spec clusterSpec) []Instance {
	out := make([]Instance, spec.instances)
	for i := range out {
		cpu := int32(1024 * (1 + r.IntN(8)))
		mem := int32(2048 * (1 + r.IntN(16)))
		in := inst(fmt.Sprintf("%05d", i), zones[r.IntN(len(zones))], cpu, mem)
		in.Facts.Attributes["ecs.instance-type"] = instanceTypes[r.IntN(len(instanceTypes))]
		in.Facts.Attributes["ecs.os-type"] = "linux"
		if r.IntN(10) == 0 {
			in.Facts.Attributes["gpu"] = "true"
		}
		if r.Float64() < spec.ineligible {
			in.Eligible = false
			in.IneligibleReason = []string{ReasonDraining, ReasonAgent}[r.IntN(2)]
		}
		if spec.tasksPerInstance > 0 {
			n := r.IntN(2*spec.tasksPerInstance + 1)
			in.GroupCounts = map[string]int{}
			for range n {
				g := fmt.Sprintf("service:s%d", r.IntN(max(spec.groups, 1)))
				if in.GroupCounts[g] == 0 {
					in.Facts.Groups = append(in.Facts.Groups, g)
				}
				in.GroupCounts[g]++
				// Tasks hold some of what is registered.
				in.CPU = max(0, in.CPU-int32(r.IntN(128)))
				in.Memory = max(0, in.Memory-int32(r.IntN(512)))
			}
			in.Facts.Instance.RunningTasksCount = n
		}
		if spec.ports {
			in.TakenPorts = map[uint16]bool{22: true}
			in.TakenUDPPorts = map[uint16]bool{}
			for range r.IntN(4) {
				in.TakenPorts[uint16(8000+r.IntN(10))] = true
			}
			for range r.IntN(3) {
				in.TakenUDPPorts[uint16(5000+r.IntN(5))] = true
			}
			for range r.IntN(5) {
				in.TakenPorts[uint16(DynamicPortFirst+r.IntN(1000))] = true
			}
		}
		out[i] = in
	}
	return out
}
