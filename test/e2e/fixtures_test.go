package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// fullContainerDefinition sets every container field berth is expected to
// keep as given (Windows-only and Firelens fields aside), so a
// RegisterTaskDefinition → Describe round trip proves none is dropped or
// rewritten.
func fullContainerDefinition() types.ContainerDefinition {
	return types.ContainerDefinition{
		Name:              aws.String("web"),
		Image:             aws.String("registry.example.com/team/web:1.4.2"),
		Cpu:               128,
		Memory:            aws.Int32(256),
		MemoryReservation: aws.Int32(128),
		Essential:         aws.Bool(true),
		PortMappings: []types.PortMapping{
			{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(0), Protocol: types.TransportProtocolTcp, Name: aws.String("http"), AppProtocol: types.ApplicationProtocolHttp},
			{ContainerPort: aws.Int32(5353), HostPort: aws.Int32(5353), Protocol: types.TransportProtocolUdp},
		},
		Environment: []types.KeyValuePair{
			{Name: aws.String("LOG_LEVEL"), Value: aws.String("debug")},
			{Name: aws.String("PORT"), Value: aws.String("8080")},
		},
		EnvironmentFiles: []types.EnvironmentFile{{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::berth-e2e/web.env")}},
		Command:          []string{"serve", "--port", "8080"},
		EntryPoint:       []string{"/usr/local/bin/web"},
		WorkingDirectory: aws.String("/srv/web"),
		User:             aws.String("1000:1000"),
		HealthCheck: &types.HealthCheck{
			Command:     []string{"CMD-SHELL", "curl -fsS http://localhost:8080/healthz || exit 1"},
			Interval:    aws.Int32(10),
			Timeout:     aws.Int32(3),
			Retries:     aws.Int32(2),
			StartPeriod: aws.Int32(5),
		},
		LogConfiguration: &types.LogConfiguration{
			LogDriver: types.LogDriverJsonFile,
			Options:   map[string]string{"max-size": "10m", "max-file": "3"},
		},
		MountPoints:  []types.MountPoint{{SourceVolume: aws.String("data"), ContainerPath: aws.String("/data"), ReadOnly: aws.Bool(false)}},
		VolumesFrom:  []types.VolumeFrom{{SourceContainer: aws.String("sidecar"), ReadOnly: aws.Bool(true)}},
		Ulimits:      []types.Ulimit{{Name: types.UlimitNameNofile, SoftLimit: 1024, HardLimit: 4096}},
		DockerLabels: map[string]string{"com.example.team": "web", "com.example.tier": "frontend"},
		StopTimeout:  aws.Int32(20),
		StartTimeout: aws.Int32(60),
		DependsOn:    []types.ContainerDependency{{ContainerName: aws.String("sidecar"), Condition: types.ContainerConditionStart}},
		Links:        []string{"sidecar:side"},
		Hostname:     aws.String("web"),
		DnsServers:   []string{"10.0.0.2"},
		DnsSearchDomains: []string{
			"svc.example.internal",
		},
		ExtraHosts:             []types.HostEntry{{Hostname: aws.String("db"), IpAddress: aws.String("10.0.0.5")}},
		ReadonlyRootFilesystem: aws.Bool(true),
		Privileged:             aws.Bool(false),
		DisableNetworking:      aws.Bool(false),
		Interactive:            aws.Bool(false),
		PseudoTerminal:         aws.Bool(false),
		DockerSecurityOptions:  []string{"no-new-privileges"},
		Secrets:                []types.Secret{{Name: aws.String("DB_PASSWORD"), ValueFrom: aws.String("arn:aws:ssm:us-east-1:000000000000:parameter/web/db-password")}},
		RepositoryCredentials:  &types.RepositoryCredentials{CredentialsParameter: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:registry-AbCdEf")},
		LinuxParameters: &types.LinuxParameters{
			Capabilities:       &types.KernelCapabilities{Add: []string{"NET_ADMIN"}, Drop: []string{"MKNOD"}},
			InitProcessEnabled: aws.Bool(true),
			SharedMemorySize:   aws.Int32(64),
			Tmpfs:              []types.Tmpfs{{ContainerPath: aws.String("/tmp"), Size: 64, MountOptions: []string{"rw", "noexec"}}},
		},
		SystemControls:     []types.SystemControl{{Namespace: aws.String("net.core.somaxconn"), Value: aws.String("1024")}},
		RestartPolicy:      &types.ContainerRestartPolicy{Enabled: aws.Bool(true), IgnoredExitCodes: []int32{0}, RestartAttemptPeriod: aws.Int32(60)},
		VersionConsistency: types.VersionConsistencyDisabled,
	}
}

// sidecarContainerDefinition is a minimal second container the full one
// links to and depends on.
func sidecarContainerDefinition() types.ContainerDefinition {
	return types.ContainerDefinition{
		Name:      aws.String("sidecar"),
		Image:     aws.String("registry.example.com/team/sidecar:2"),
		Memory:    aws.Int32(64),
		Essential: aws.Bool(false),
	}
}

// fullTaskDefinitionInput registers family with the full container, its
// sidecar, a host volume and tags.
func fullTaskDefinitionInput(family string) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		ContainerDefinitions:    []types.ContainerDefinition{fullContainerDefinition(), sidecarContainerDefinition()},
		NetworkMode:             types.NetworkModeBridge,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityEc2},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		TaskRoleArn:             aws.String("arn:aws:iam::000000000000:role/web-task"),
		ExecutionRoleArn:        aws.String("arn:aws:iam::000000000000:role/web-exec"),
		Volumes:                 []types.Volume{{Name: aws.String("data"), Host: &types.HostVolumeProperties{SourcePath: aws.String("/var/lib/web")}}},
		PlacementConstraints: []types.TaskDefinitionPlacementConstraint{
			{Type: types.TaskDefinitionPlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.os-type == linux")},
		},
		Tags: tags("team", "web", "cost-center", "42"),
	}
}

// smallTaskDefinitionInput registers a one-container family needing cpu
// CPU units and memMiB MiB.
func smallTaskDefinitionInput(family string, cpu, memMiB int32) *ecs.RegisterTaskDefinitionInput {
	return &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name:      aws.String("app"),
			Image:     aws.String("registry.example.com/app:1"),
			Cpu:       cpu,
			Memory:    aws.Int32(memMiB),
			Essential: aws.Bool(true),
		}},
	}
}

// instanceInput registers an EC2-like container instance with the given
// CPU units and memory (MiB).
func instanceInput(cluster, ec2ID string, cpu, memMiB int32) *ecs.RegisterContainerInstanceInput {
	doc := fmt.Sprintf(`{"instanceId":%q,"instanceType":"t3.medium","availabilityZone":"us-east-1a","region":"us-east-1","accountId":"000000000000","imageId":"ami-0e2e0000000000000","privateIp":"10.0.1.17"}`, ec2ID)
	return &ecs.RegisterContainerInstanceInput{
		Cluster:                  aws.String(cluster),
		InstanceIdentityDocument: aws.String(doc),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: cpu},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: memMiB},
			{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: []string{"22", "2375", "2376", "51678", "51679"}},
			{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: []string{}},
		},
		VersionInfo: &types.VersionInfo{AgentVersion: aws.String("1.0.0"), AgentHash: aws.String("e2e"), DockerVersion: aws.String("DockerVersion: 20.10.24")},
	}
}

// mustCluster creates a cluster or fails the test.
func mustCluster(tb testing.TB, ctx context.Context, c *ecs.Client, name string) {
	tb.Helper()
	_, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)})
	ok(tb, err)
}

// mustTaskDef registers in or fails the test, returning the ARN.
func mustTaskDef(tb testing.TB, ctx context.Context, c *ecs.Client, in *ecs.RegisterTaskDefinitionInput) string {
	tb.Helper()
	out, err := c.RegisterTaskDefinition(ctx, in)
	ok(tb, err)
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

// mustInstance registers a container instance or fails the test,
// returning its ARN.
func mustInstance(tb testing.TB, ctx context.Context, c *ecs.Client, in *ecs.RegisterContainerInstanceInput) string {
	tb.Helper()
	out, err := c.RegisterContainerInstance(ctx, in)
	ok(tb, err)
	return aws.ToString(out.ContainerInstance.ContainerInstanceArn)
}
