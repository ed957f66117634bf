package clusterquery

import (
	"testing"
	"time"
)

// instance is the subject of the evaluation tests.
var instance = &Facts{
	Instance: Instance{
		EC2InstanceID:     "i-0abc",
		AgentConnected:    true,
		AgentVersion:      "1.10.2",
		RegisteredAt:      time.Date(2018, 6, 18, 22, 28, 28, 0, time.UTC),
		RunningTasksCount: 3,
	},
	Attributes: map[string]string{
		"ecs.instance-type":         "t2.small",
		"ecs.availability-zone":     "us-east-1a",
		"ecs.capability.privileged": "",
		"size":                      "10",
		"owner":                     "team a",
	},
	Groups: []string{"service:web", "family:batch"},
}

func TestEval(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		// attribute, each operator
		{"attribute:ecs.instance-type == t2.small", true},
		{"attribute:ecs.instance-type == t2.micro", false},
		{"attribute:ecs.instance-type != t2.micro", true},
		{"attribute:ecs.instance-type != t2.small", false},
		{"attribute:size > 9", true},     // numeric: 10 > 9
		{"attribute:size > 10", false},   //
		{"attribute:size >= 10", true},   //
		{"attribute:size < 9.5", false},  //
		{"attribute:size <= 10.0", true}, // numbers compare as numbers
		{"attribute:size < 100", true},   // not "10" < "100" by chance: numeric
		{"attribute:size > 2", true},     // though "10" < "2" as strings
		{"attribute:owner > team", true}, // strings compare as strings
		{"attribute:owner < 'team b'", true},
		{"attribute:ecs.capability.privileged exists", true},
		{"attribute:gpu exists", false},
		{"attribute:gpu not_exists", true},
		{"attribute:ecs.capability.privileged !exists", false},
		{"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", true},
		{"attribute:ecs.availability-zone in [us-east-1c]", false},
		{"attribute:ecs.availability-zone not_in [us-east-1c]", true},
		{"attribute:ecs.availability-zone !in [us-east-1a]", false},
		{"attribute:ecs.instance-type =~ t2.*", true},
		{"attribute:ecs.instance-type =~ t2", false}, // the whole value must match
		{"attribute:ecs.instance-type =~ '.*small'", true},
		{"attribute:ecs.instance-type !~ g2.*", true},
		{"attribute:ecs.instance-type not_matches t2.*", false},
		{"attribute:owner == 'team a'", true},
		{"attribute:ecs.capability.privileged == ''", true},
		// a missing attribute: only the negative operators hold
		{"attribute:gpu == x", false},
		{"attribute:gpu != x", true},
		{"attribute:gpu > 0", false},
		{"attribute:gpu <= 0", false},
		{"attribute:gpu in [x]", false},
		{"attribute:gpu not_in [x]", true},
		{"attribute:gpu =~ '.*'", false},
		{"attribute:gpu !~ '.*'", true},
		// ec2InstanceId
		{"ec2InstanceId == i-0abc", true},
		{"ec2InstanceId != i-0abc", false},
		{"ec2InstanceId in ['i-1', 'i-0abc']", true},
		{"ec2InstanceId not_in ['i-1']", true},
		{"ec2InstanceId =~ 'i-0.*'", true},
		{"ec2InstanceId !~ 'i-0.*'", false},
		// agentConnected
		{"agentConnected == true", true},
		{"agentConnected == TRUE", true},
		{"agentConnected == false", false},
		{"agentConnected != false", true},
		{"agentConnected in [false]", false},
		{"agentConnected =~ 't.*'", true},
		// agentVersion: dotted numeric order
		{"agentVersion == 1.10.2", true},
		{"agentVersion == 1.10.2.0", true},
		{"agentVersion != 1.10.2", false},
		{"agentVersion > 1.9.9", true},
		{"agentVersion >= 1.10.2", true},
		{"agentVersion < 1.10.10", true},
		{"agentVersion <= 1.2", false},
		{"agentVersion > 1.10", true},
		// registeredAt
		{"registeredAt == 2018-06-18", true}, // a bare date is day granularity
		{"registeredAt > 2018-06-18", false},
		{"registeredAt >= 2018-06-18", true},
		{"registeredAt < 2018-06-19", true},
		{"registeredAt <= 2018-06-17", false},
		{"registeredAt != 2018-06-17", true},
		{"registeredAt == 2018-06-18T22:28:28Z", true},
		{"registeredAt == 2018-06-18T22:28:28", true},
		{"registeredAt == 2018-06-19T00:28:28+02:00", true},
		{"registeredAt > 2018-06-18T22:28:27Z", true},
		{"registeredAt < 2018-06-18T22:28:28Z", false},
		// runningTasksCount
		{"runningTasksCount == 3", true},
		{"runningTasksCount != 3", false},
		{"runningTasksCount > 2", true},
		{"runningTasksCount >= 4", false},
		{"runningTasksCount < 10", true},
		{"runningTasksCount <= 2", false},
		// task:group: any task matches; negatives: no task matches
		{"task:group == service:web", true},
		{"task:group == service:db", false},
		{"task:group != service:db", true},
		{"task:group != service:web", false}, // a task of service:web is there
		{"task:group in [service:db, family:batch]", true},
		{"task:group not_in [service:db]", true},
		{"task:group not_in [family:batch]", false},
		{"task:group =~ 'service:.*'", true},
		{"task:group !~ 'service:.*'", false},
		// compound
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a", true},
		{"attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1b", false},
		{"attribute:ecs.instance-type == m4.large or task:group == service:web", true},
		{"attribute:ecs.instance-type == m4.large || task:group == service:db", false},
		{"not(task:group == database)", true},
		{"!task:group == service:web", false},
		{"not not task:group == service:web", true},
		{"attribute:gpu exists or runningTasksCount < 5 and agentConnected == true", true},
		{"(attribute:gpu exists or runningTasksCount < 5) and agentConnected == false", false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if got := e.Eval(instance); got != tt.want {
				t.Errorf("Eval(%q) = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestEvalNoGroups(t *testing.T) {
	empty := &Facts{}
	tests := []struct {
		expr string
		want bool
	}{
		{"task:group == service:web", false},
		{"task:group != service:web", true},
		{"task:group not_in [a]", true},
		{"attribute:x exists", false},
		{"runningTasksCount == 0", true},
		{"agentConnected == false", true},
		{"ec2InstanceId == ''", true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if got := e.Eval(empty); got != tt.want {
				t.Errorf("Eval(%q) = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.2.3", 0},
		{"1.2", "1.2.0", 0},
		{"1.10.0", "1.9.9", 1},
		{"1.9.9", "1.10.0", -1},
		{"01.2", "1.2", 0},
		{"1.2.3-beta", "1.2.3-alpha", 1},
		{"99999999999999999999999.1", "2.0", 1}, // no overflow
	}
	for _, tt := range tests {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
