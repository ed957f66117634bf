package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-cmp/cmp"
)

// missingID is a well-formed task / container instance ID nobody has.
const missingID = "0123456789abcdef0123456789abcdef"

// TestContainerInstancesAndTasks registers a container instance, places
// tasks on it with RunTask, describes, lists, stops them, drains and
// deregisters the instance.
func TestContainerInstancesAndTasks(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx, c := ctxT(t), srv.ecs
	mustCluster(t, ctx, c, "ci")
	jobARN := mustTaskDef(t, ctx, c, smallTaskDefinitionInput("job", 256, 256))
	mustTaskDef(t, ctx, c, smallTaskDefinitionInput("huge", 256, 4096))

	t.Run("run with no instances", func(t *testing.T) {
		// ECS: "InvalidParameterException: No Container Instances were found in your cluster."
		_, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ci"), TaskDefinition: aws.String("job")})
		wantCode(t, err, "InvalidParameterException")
	})

	reg, err := c.RegisterContainerInstance(ctx, instanceInput("ci", "i-0e2e0000000000001", 1024, 2048))
	ok(t, err)
	ci := reg.ContainerInstance
	inst := aws.ToString(ci.ContainerInstanceArn)
	if m := instanceARNRE.FindStringSubmatch(inst); m == nil || m[1] != "ci" {
		t.Errorf("containerInstanceArn = %q, want %scontainer-instance/ci/<32 hex>", inst, arnPrefix)
	}
	if got := aws.ToString(ci.Status); got != "ACTIVE" {
		t.Errorf("RegisterContainerInstance: status = %q, want ACTIVE", got)
	}
	if got := aws.ToString(ci.Ec2InstanceId); got != "i-0e2e0000000000001" {
		t.Errorf("RegisterContainerInstance: ec2InstanceId = %q, want the identity document's instanceId", got)
	}
	for _, r := range []struct {
		name string
		want int32
	}{{"CPU", 1024}, {"MEMORY", 2048}} {
		if got, found := resourceValue(ci.RegisteredResources, r.name); !found || got != r.want {
			t.Errorf("registeredResources %s = %d (present %v), want %d", r.name, got, found, r.want)
		}
		if got, found := resourceValue(ci.RemainingResources, r.name); !found || got != r.want {
			t.Errorf("remainingResources %s = %d (present %v), want %d", r.name, got, found, r.want)
		}
	}

	t.Run("list and describe instances", func(t *testing.T) {
		list, err := c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("ci")})
		ok(t, err)
		if diff := cmp.Diff([]string{inst}, list.ContainerInstanceArns); diff != "" {
			t.Errorf("ListContainerInstances (-want +got):\n%s", diff)
		}
		desc, err := c.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("ci"), ContainerInstances: []string{inst, missingID}})
		ok(t, err)
		if len(desc.ContainerInstances) != 1 || aws.ToString(desc.ContainerInstances[0].ContainerInstanceArn) != inst {
			t.Errorf("DescribeContainerInstances: got %d instances, want only %s", len(desc.ContainerInstances), inst)
		}
		if len(desc.Failures) != 1 || aws.ToString(desc.Failures[0].Reason) != "MISSING" {
			t.Errorf("DescribeContainerInstances: failures %+v, want one MISSING", desc.Failures)
		}
		_, err = c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("nope")})
		wantCode(t, err, "ClusterNotFoundException")
		_, err = c.RegisterContainerInstance(ctx, instanceInput("nope", "i-0e2e0000000000009", 1024, 2048))
		wantCode(t, err, "ClusterNotFoundException")
	})

	var taskARNs []string
	t.Run("run", func(t *testing.T) {
		out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ci"), TaskDefinition: aws.String("job"), Count: aws.Int32(2), StartedBy: aws.String("e2e")})
		ok(t, err)
		if len(out.Failures) != 0 {
			t.Errorf("RunTask: failures %+v, want none", out.Failures)
		}
		if len(out.Tasks) != 2 {
			t.Fatalf("RunTask: got %d tasks, want 2", len(out.Tasks))
		}
		for i, task := range out.Tasks {
			arn := aws.ToString(task.TaskArn)
			taskARNs = append(taskARNs, arn)
			if m := taskARNRE.FindStringSubmatch(arn); m == nil || m[1] != "ci" {
				t.Errorf("tasks[%d].taskArn = %q, want %stask/ci/<32 hex>", i, arn, arnPrefix)
			}
			checks := []struct {
				name      string
				got, want any
			}{
				{"clusterArn", aws.ToString(task.ClusterArn), clusterARN("ci")},
				{"containerInstanceArn", aws.ToString(task.ContainerInstanceArn), inst},
				{"taskDefinitionArn", aws.ToString(task.TaskDefinitionArn), jobARN},
				{"desiredStatus", aws.ToString(task.DesiredStatus), "RUNNING"},
				{"launchType", task.LaunchType, types.LaunchTypeEc2},
				{"startedBy", aws.ToString(task.StartedBy), "e2e"},
				{"group", aws.ToString(task.Group), "family:job"},
				{"containers", len(task.Containers), 1},
			}
			for _, ch := range checks {
				if diff := cmp.Diff(ch.want, ch.got); diff != "" {
					t.Errorf("tasks[%d].%s (-want +got):\n%s", i, ch.name, diff)
				}
			}
			if st := aws.ToString(task.LastStatus); st != "PROVISIONING" && st != "PENDING" {
				t.Errorf("tasks[%d].lastStatus = %q, want PROVISIONING or PENDING (no agent runs it)", i, st)
			}
			if len(task.Containers) == 1 && aws.ToString(task.Containers[0].Name) != "app" {
				t.Errorf("tasks[%d].containers[0].name = %q, want app", i, aws.ToString(task.Containers[0].Name))
			}
			if task.CreatedAt == nil {
				t.Errorf("tasks[%d]: no createdAt", i)
			}
		}

		desc, err := c.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("ci"), ContainerInstances: []string{inst}})
		ok(t, err)
		if len(desc.ContainerInstances) == 1 {
			ci := desc.ContainerInstances[0]
			if got, _ := resourceValue(ci.RemainingResources, "MEMORY"); got != 2048-2*256 {
				t.Errorf("remaining MEMORY after 2 tasks = %d, want %d", got, 2048-2*256)
			}
			if got, _ := resourceValue(ci.RemainingResources, "CPU"); got != 1024-2*256 {
				t.Errorf("remaining CPU after 2 tasks = %d, want %d", got, 1024-2*256)
			}
			if got := ci.PendingTasksCount + ci.RunningTasksCount; got != 2 {
				t.Errorf("pending+running tasks on the instance = %d, want 2", got)
			}
		}
		cl, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"ci"}})
		ok(t, err)
		if len(cl.Clusters) == 1 {
			if got := cl.Clusters[0].PendingTasksCount + cl.Clusters[0].RunningTasksCount; got != 2 {
				t.Errorf("cluster pending+running tasks = %d, want 2", got)
			}
			if got := cl.Clusters[0].RegisteredContainerInstancesCount; got != 1 {
				t.Errorf("cluster registeredContainerInstancesCount = %d, want 1", got)
			}
		}
	})

	t.Run("run errors", func(t *testing.T) {
		out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ci"), TaskDefinition: aws.String("huge")})
		ok(t, err)
		if len(out.Tasks) != 0 {
			t.Errorf("RunTask(huge): placed %d tasks, want none", len(out.Tasks))
		}
		if diff := cmp.Diff(map[string]string{inst: "RESOURCE:MEMORY"}, failureReasons(out.Failures)); diff != "" {
			t.Errorf("RunTask(huge): failures (-want +got):\n%s", diff)
		}
		_, err = c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ci"), TaskDefinition: aws.String("job"), Count: aws.Int32(11)})
		wantCode(t, err, "InvalidParameterException")
		_, err = c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("nope"), TaskDefinition: aws.String("job")})
		wantCode(t, err, "ClusterNotFoundException")
		_, err = c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ci"), TaskDefinition: aws.String("ghost")})
		wantOneOf(t, err, "ClientException", "InvalidParameterException")
	})
	if len(taskARNs) != 2 {
		t.Fatalf("RunTask placed %d tasks; the rest depends on 2", len(taskARNs))
	}

	t.Run("describe tasks", func(t *testing.T) {
		out, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("ci"), Tasks: []string{taskARNs[0], taskARNs[1], missingID}})
		ok(t, err)
		var got []string
		for _, task := range out.Tasks {
			got = append(got, aws.ToString(task.TaskArn))
		}
		if diff := cmp.Diff(sortedCopy(taskARNs), sortedCopy(got)); diff != "" {
			t.Errorf("DescribeTasks (-want +got):\n%s", diff)
		}
		if len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
			t.Errorf("DescribeTasks: failures %+v, want one MISSING", out.Failures)
		}
		_, err = c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("nope"), Tasks: taskARNs})
		wantCode(t, err, "ClusterNotFoundException")
	})

	listTasks := func(t *testing.T, in *ecs.ListTasksInput) []string {
		t.Helper()
		in.Cluster = aws.String("ci")
		out, err := c.ListTasks(ctx, in)
		ok(t, err)
		return sortedCopy(out.TaskArns)
	}
	both := sortedCopy(taskARNs)

	t.Run("list tasks", func(t *testing.T) {
		cases := []struct {
			name string
			in   *ecs.ListTasksInput
			want []string
		}{
			{"all", &ecs.ListTasksInput{}, both},
			{"by container instance", &ecs.ListTasksInput{ContainerInstance: aws.String(inst)}, both},
			{"by family", &ecs.ListTasksInput{Family: aws.String("job")}, both},
			{"by other family", &ecs.ListTasksInput{Family: aws.String("huge")}, nil},
			{"by startedBy", &ecs.ListTasksInput{StartedBy: aws.String("e2e")}, both},
			{"by other startedBy", &ecs.ListTasksInput{StartedBy: aws.String("someone-else")}, nil},
			{"desired RUNNING", &ecs.ListTasksInput{DesiredStatus: types.DesiredStatusRunning}, both},
			{"desired STOPPED", &ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if diff := cmp.Diff(tc.want, listTasks(t, tc.in), sdkOpts); diff != "" {
					t.Errorf("ListTasks (-want +got):\n%s", diff)
				}
			})
		}
		_, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("nope")})
		wantCode(t, err, "ClusterNotFoundException")
	})

	t.Run("stop", func(t *testing.T) {
		out, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("ci"), Task: aws.String(taskARNs[0]), Reason: aws.String("e2e says stop")})
		ok(t, err)
		if got := aws.ToString(out.Task.DesiredStatus); got != "STOPPED" {
			t.Errorf("StopTask: desiredStatus = %q, want STOPPED", got)
		}
		if got := aws.ToString(out.Task.StoppedReason); got != "e2e says stop" {
			t.Errorf("StopTask: stoppedReason = %q, want %q", got, "e2e says stop")
		}
		if diff := cmp.Diff([]string{taskARNs[0]}, listTasks(t, &ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped})); diff != "" {
			t.Errorf("ListTasks desired STOPPED (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{taskARNs[1]}, listTasks(t, &ecs.ListTasksInput{})); diff != "" {
			t.Errorf("ListTasks desired RUNNING (-want +got):\n%s", diff)
		}
		// ECS: "InvalidParameterException: The referenced task was not found."
		_, err = c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("ci"), Task: aws.String(missingID)})
		wantCode(t, err, "InvalidParameterException")
	})

	t.Run("drain", func(t *testing.T) {
		out, err := c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
			Cluster: aws.String("ci"), ContainerInstances: []string{inst}, Status: types.ContainerInstanceStatusDraining,
		})
		ok(t, err)
		if len(out.ContainerInstances) != 1 || aws.ToString(out.ContainerInstances[0].Status) != "DRAINING" {
			t.Errorf("UpdateContainerInstancesState: got %+v, want the instance DRAINING", out.ContainerInstances)
		}
		draining, err := c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("ci"), Status: types.ContainerInstanceStatusDraining})
		ok(t, err)
		if diff := cmp.Diff([]string{inst}, draining.ContainerInstanceArns); diff != "" {
			t.Errorf("ListContainerInstances status=DRAINING (-want +got):\n%s", diff)
		}
		active, err := c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("ci"), Status: types.ContainerInstanceStatusActive})
		ok(t, err)
		if len(active.ContainerInstanceArns) != 0 {
			t.Errorf("ListContainerInstances status=ACTIVE: %v, want none", active.ContainerInstanceArns)
		}
		_, err = c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{
			Cluster: aws.String("ci"), ContainerInstances: []string{inst}, Status: "BOGUS",
		})
		wantCode(t, err, "InvalidParameterException")
	})

	t.Run("deregister", func(t *testing.T) {
		out, err := c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("ci"), ContainerInstance: aws.String(inst), Force: aws.Bool(true)})
		ok(t, err)
		if got := aws.ToString(out.ContainerInstance.Status); got != "INACTIVE" {
			t.Errorf("DeregisterContainerInstance: status = %q, want INACTIVE", got)
		}
		list, err := c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("ci")})
		ok(t, err)
		if len(list.ContainerInstanceArns) != 0 {
			t.Errorf("ListContainerInstances after deregister: %v, want none", list.ContainerInstanceArns)
		}
		_, err = c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("ci"), ContainerInstance: aws.String(missingID)})
		wantOneOf(t, err, "InvalidParameterException", "ClientException")
	})
}
