package ecsapi

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/clusterquery"
)

// Task definition validation and normalization. normalizeTaskDefinition is
// pure: it checks a definition against ECS's rules and fills what ECS fills
// (essential, port protocols, host ports, health check defaults, empty
// lists, compatibilities); RegisterTaskDefinition then numbers and stores it.
//
// Error types follow ECS: a rule about the definition's content is a
// ClientException (as ECS words "Invalid setting for container ..."), a
// value outside an enum or a request limit is an InvalidParameterException.
// Every message starts with the member path.

// Limits ECS documents (or, where it documents none, berth's choice).
const (
	maxContainersPerTaskDef = 10
	maxTaskDefPlacement     = 10
	// maxTaskDefBytes is ECS's task definition size quota (64 KiB of JSON).
	maxTaskDefBytes = 64 << 10
	// minContainerMemoryMiB is the least memory Docker 20.10+ will run a
	// container with; ECS refuses less.
	minContainerMemoryMiB = 6
	// maxFargateTimeout bounds stopTimeout and startTimeout on Fargate.
	maxFargateTimeout = 120
	// maxEC2StopTimeout bounds stopTimeout elsewhere. ECS documents no
	// maximum for EC2 (the agent's ECS_CONTAINER_STOP_TIMEOUT applies when
	// unset); berth caps it at one day so a typo cannot pin a task's
	// resources for weeks.
	maxEC2StopTimeout = 86400
	// Task-level CPU units ECS accepts on EC2 (0.125 to 192 vCPU).
	minTaskCPU = 128
	maxTaskCPU = 196608
)

// Health check defaults ECS fills in when the member is absent.
const (
	defaultHealthInterval = 30
	defaultHealthTimeout  = 5
	defaultHealthRetries  = 3
)

var (
	// portNameRE is ECS's rule for portMappings[].name: up to 64 lowercase
	// letters, digits, underscores and hyphens, not starting with a hyphen.
	portNameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]{0,63}$`)
	// imageRE is the character set ECS allows in an image reference
	// (repository-url/image:tag); a digest follows an @.
	imageRE  = regexp.MustCompile(`^[a-zA-Z0-9_.:/#-]+$`)
	digestRE = regexp.MustCompile(`^sha256:[a-fA-F0-9]{64}$`)
)

func clientErr(member, format string, args ...any) error {
	return errClient("%s: %s", member, fmt.Sprintf(format, args...))
}

func paramErr(member, format string, args ...any) error {
	return errInvalidParameter("%s: %s", member, fmt.Sprintf(format, args...))
}

// parseTaskCPU parses task-level cpu as ECS accepts it: CPU units ("1024")
// or vCPUs ("1 vCPU", "0.25 vcpu", ".5vCPU"), and returns CPU units.
func parseTaskCPU(v string) (int, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	n, err := parseScaled(s, "vcpu", 1024)
	if err != nil {
		return 0, fmt.Errorf("%q is not CPU units (1024) or vCPUs (1 vCPU)", v)
	}
	if n < minTaskCPU || n > maxTaskCPU {
		return 0, fmt.Errorf("%q is %d CPU units; ECS accepts %d-%d (0.125-192 vCPU)", v, n, minTaskCPU, maxTaskCPU)
	}
	return n, nil
}

// parseTaskMemory parses task-level memory as ECS accepts it: MiB ("512")
// or GB ("1 GB", "1GB", "0.5 gb"), and returns MiB.
func parseTaskMemory(v string) (int, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	n, err := parseScaled(s, "gb", 1024)
	if err != nil {
		return 0, fmt.Errorf("%q is not MiB (512) or GB (1 GB)", v)
	}
	if n < minContainerMemoryMiB {
		return 0, fmt.Errorf("%q is %d MiB; the minimum is %d MiB", v, n, minContainerMemoryMiB)
	}
	return n, nil
}

// parseScaled reads "N" as an integer or "X<unit>" (X may be fractional) as
// X*scale, which must come out whole.
func parseScaled(s, unit string, scale float64) (int, error) {
	if num, ok := strings.CutSuffix(s, unit); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) || f*scale > math.MaxInt32 {
			return 0, fmt.Errorf("bad number")
		}
		v := f * scale
		if math.Abs(v-math.Round(v)) > 1e-9 {
			return 0, fmt.Errorf("not whole")
		}
		return int(math.Round(v)), nil
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad number")
	}
	return int(n), nil
}

// fargateSizeOK reports whether cpu units and memory MiB are one of the
// task sizes Fargate offers.
func fargateSizeOK(cpu, mem int) bool {
	const gib = 1024
	steps := func(lo, hi, step int) bool { return mem >= lo && mem <= hi && (mem-lo)%step == 0 }
	switch cpu {
	case 256:
		return mem == 512 || mem == 1*gib || mem == 2*gib
	case 512:
		return steps(1*gib, 4*gib, gib)
	case 1024:
		return steps(2*gib, 8*gib, gib)
	case 2048:
		return steps(4*gib, 16*gib, gib)
	case 4096:
		return steps(8*gib, 30*gib, gib)
	case 8192:
		return steps(16*gib, 60*gib, 4*gib)
	case 16384:
		return steps(32*gib, 120*gib, 8*gib)
	}
	return false
}

// validateMemberOf checks a memberOf placement expression with the cluster
// query language parser, the one the scheduler evaluates it with.
func validateMemberOf(expr, member string) error {
	if strings.TrimSpace(expr) == "" {
		return clientErr(member, "a memberOf constraint needs an expression")
	}
	if _, err := clusterquery.Parse(expr); err != nil {
		return clientErr(member, "%v", err)
	}
	return nil
}

// taskDefContext is what container validation needs to know about the task.
type taskDefContext struct {
	networkMode string
	fargate     bool // requiresCompatibilities names FARGATE
	taskCPU     int  // 0 when unset
	taskMemory  int  // 0 when unset
	volumes     map[string]bool
	containers  map[string]int // name -> index
}

// normalizeTaskDefinition validates td (decoded from a
// RegisterTaskDefinitionRequest) and fills what ECS fills. Task-level cpu
// and memory are rewritten as CPU units and MiB ("1 vCPU" -> "1024",
// "2 GB" -> "2048"), as ECS documents it does on registration.
func normalizeTaskDefinition(td *ecs.TaskDefinition) error {
	if !nameRE.MatchString(td.Family) {
		return clientErr("family", "up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens")
	}
	if td.NetworkMode == "" {
		td.NetworkMode = ecs.NetworkModeBridge
	}
	if !ecs.ValidNetworkMode(td.NetworkMode) {
		return paramErr("networkMode", "%q is not one of bridge, host, awsvpc, none", td.NetworkMode)
	}
	ctx := taskDefContext{networkMode: td.NetworkMode, volumes: map[string]bool{}, containers: map[string]int{}}
	for i, c := range td.RequiresCompatibilities {
		if !ecs.ValidCompatibility(c) {
			return paramErr(fmt.Sprintf("requiresCompatibilities[%d]", i), "%q is not one of EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES", c)
		}
		if c == ecs.CompatibilityFARGATE {
			ctx.fargate = true
		}
	}
	if td.Cpu != "" {
		n, err := parseTaskCPU(td.Cpu)
		if err != nil {
			return clientErr("cpu", "%v", err)
		}
		ctx.taskCPU = n
		td.Cpu = strconv.Itoa(n) // ECS stores the CPU units
	}
	if td.Memory != "" {
		n, err := parseTaskMemory(td.Memory)
		if err != nil {
			return clientErr("memory", "%v", err)
		}
		ctx.taskMemory = n
		td.Memory = strconv.Itoa(n) // ECS stores MiB
	}
	if td.PidMode != "" && !ecs.ValidPidMode(td.PidMode) {
		return paramErr("pidMode", "%q is not one of host, task", td.PidMode)
	}
	if td.IpcMode != "" && !ecs.ValidIpcMode(td.IpcMode) {
		return paramErr("ipcMode", "%q is not one of host, task, none", td.IpcMode)
	}
	if rp := td.RuntimePlatform; rp != nil {
		if rp.CpuArchitecture != "" && !ecs.ValidCPUArchitecture(rp.CpuArchitecture) {
			return paramErr("runtimePlatform.cpuArchitecture", "%q is not one of X86_64, ARM64", rp.CpuArchitecture)
		}
		if rp.OperatingSystemFamily != "" && !ecs.ValidOSFamily(rp.OperatingSystemFamily) {
			return paramErr("runtimePlatform.operatingSystemFamily", "%q is not an ECS operating system family", rp.OperatingSystemFamily)
		}
	}
	if es := td.EphemeralStorage; es != nil && (es.SizeInGiB < 21 || es.SizeInGiB > 200) {
		return clientErr("ephemeralStorage.sizeInGiB", "must be 21-200 GiB, got %d", es.SizeInGiB)
	}
	if err := validateTaskPlacement(td.PlacementConstraints); err != nil {
		return err
	}
	for i, v := range td.Volumes {
		member := fmt.Sprintf("volumes[%d].name", i)
		if !nameRE.MatchString(v.Name) {
			return clientErr(member, "up to 255 letters, numbers, underscores and hyphens")
		}
		if ctx.volumes[v.Name] {
			return clientErr(member, "duplicate volume name %q", v.Name)
		}
		ctx.volumes[v.Name] = true
	}
	if err := validateContainers(td, &ctx); err != nil {
		return err
	}
	if pc := td.ProxyConfiguration; pc != nil {
		if pc.Type != "" && !ecs.ValidProxyConfigurationType(pc.Type) {
			return paramErr("proxyConfiguration.type", "%q is not APPMESH", pc.Type)
		}
		if _, ok := ctx.containers[pc.ContainerName]; !ok {
			return clientErr("proxyConfiguration.containerName", "%q is not a container of this task definition", pc.ContainerName)
		}
	}
	if ctx.fargate {
		if reason := fargateProblem(td, ctx); reason != "" {
			return errClient("%s", reason)
		}
	}
	td.Compatibilities = compatibilities(td, ctx)
	for _, want := range td.RequiresCompatibilities {
		if !slices.Contains(td.Compatibilities, want) {
			return clientErr("requiresCompatibilities", "the task definition is not compatible with %s (networkMode %s)", want, td.NetworkMode)
		}
	}
	fillTaskDefLists(td)
	return nil
}

func validateTaskPlacement(pcs []ecs.TaskDefinitionPlacementConstraint) error {
	if len(pcs) > maxTaskDefPlacement {
		return paramErr("placementConstraints", "at most %d constraints, got %d", maxTaskDefPlacement, len(pcs))
	}
	for i, pc := range pcs {
		member := fmt.Sprintf("placementConstraints[%d]", i)
		if pc.Type != ecs.TaskDefinitionPlacementConstraintTypeMemberOf {
			return paramErr(member+".type", "%q: task definitions allow only memberOf", pc.Type)
		}
		if err := validateMemberOf(pc.Expression, member+".expression"); err != nil {
			return err
		}
	}
	return nil
}

// validateContainers checks every container definition and the relations
// between them, filling per-container defaults.
func validateContainers(td *ecs.TaskDefinition, ctx *taskDefContext) error {
	cds := td.ContainerDefinitions
	if len(cds) == 0 {
		return clientErr("containerDefinitions", "at least one container definition is required")
	}
	if len(cds) > maxContainersPerTaskDef {
		return clientErr("containerDefinitions", "at most %d containers per task definition, got %d", maxContainersPerTaskDef, len(cds))
	}
	for i, c := range cds {
		member := fmt.Sprintf("containerDefinitions[%d].name", i)
		if !nameRE.MatchString(c.Name) {
			return clientErr(member, "up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens")
		}
		if _, dup := ctx.containers[c.Name]; dup {
			return clientErr(member, "duplicate container name %q", c.Name)
		}
		ctx.containers[c.Name] = i
	}
	portNames := map[string]bool{}
	essential := false
	var cpuSum, memSum int
	for i := range cds {
		c := &cds[i]
		if c.Essential == nil {
			t := true
			c.Essential = &t
		}
		if *c.Essential {
			essential = true
		}
		if err := validateContainer(c, i, ctx, portNames); err != nil {
			return err
		}
		cpuSum += int(c.Cpu)
		switch {
		case c.MemoryReservation != nil:
			memSum += int(*c.MemoryReservation)
		case c.Memory != nil:
			memSum += int(*c.Memory)
		}
	}
	if !essential {
		return clientErr("containerDefinitions", "at least one container must be essential")
	}
	if ctx.taskCPU > 0 && cpuSum > ctx.taskCPU {
		return clientErr("containerDefinitions", "the containers reserve %d CPU units, more than the task's cpu %d", cpuSum, ctx.taskCPU)
	}
	if ctx.taskMemory > 0 && memSum > ctx.taskMemory {
		return clientErr("containerDefinitions", "the containers reserve %d MiB, more than the task's memory %d MiB", memSum, ctx.taskMemory)
	}
	for i := range cds {
		if err := validateContainerRefs(cds, i, ctx); err != nil {
			return err
		}
	}
	return dependencyCycle(cds)
}

// validateContainer checks one container definition on its own.
func validateContainer(c *ecs.ContainerDefinition, i int, ctx *taskDefContext, portNames map[string]bool) error {
	p := fmt.Sprintf("containerDefinitions[%d]", i)
	if err := validateImage(c.Image, p+".image"); err != nil {
		return err
	}
	if c.Cpu < 0 {
		return clientErr(p+".cpu", "must not be negative, got %d", c.Cpu)
	}
	if c.Memory == nil && c.MemoryReservation == nil && ctx.taskMemory == 0 {
		return clientErr(p+".memory", "container %q needs memory or memoryReservation when the task sets no memory", c.Name)
	}
	if c.Memory != nil {
		if *c.Memory < minContainerMemoryMiB {
			return clientErr(p+".memory", "must be at least %d MiB, got %d", minContainerMemoryMiB, *c.Memory)
		}
		if ctx.taskMemory > 0 && int(*c.Memory) > ctx.taskMemory {
			return clientErr(p+".memory", "%d MiB is more than the task's memory %d MiB", *c.Memory, ctx.taskMemory)
		}
	}
	if c.MemoryReservation != nil && *c.MemoryReservation < minContainerMemoryMiB {
		return clientErr(p+".memoryReservation", "must be at least %d MiB, got %d", minContainerMemoryMiB, *c.MemoryReservation)
	}
	if c.Memory != nil && c.MemoryReservation != nil && *c.Memory <= *c.MemoryReservation {
		return clientErr(p+".memory", "must be greater than memoryReservation (%d <= %d)", *c.Memory, *c.MemoryReservation)
	}
	if c.Hostname != "" && ctx.networkMode == ecs.NetworkModeAwsvpc {
		return clientErr(p+".hostname", "not supported with networkMode awsvpc")
	}
	if len(c.Links) > 0 && ctx.networkMode != ecs.NetworkModeBridge {
		return clientErr(p+".links", "links are supported only with networkMode bridge")
	}
	if err := validatePortMappings(c, p, ctx, portNames); err != nil {
		return err
	}
	if err := validateHealthCheck(c.HealthCheck, p+".healthCheck"); err != nil {
		return err
	}
	if err := validateTimeouts(c, p, ctx.fargate); err != nil {
		return err
	}
	if err := validateUlimits(c.Ulimits, p+".ulimits"); err != nil {
		return err
	}
	if lc := c.LogConfiguration; lc != nil && !ecs.ValidLogDriver(lc.LogDriver) {
		return paramErr(p+".logConfiguration.logDriver", "%q is not one of json-file, syslog, journald, gelf, fluentd, awslogs, splunk, awsfirelens", lc.LogDriver)
	}
	for j, rr := range c.ResourceRequirements {
		if !ecs.ValidResourceType(rr.Type) {
			return paramErr(fmt.Sprintf("%s.resourceRequirements[%d].type", p, j), "%q is not one of GPU, InferenceAccelerator", rr.Type)
		}
	}
	for j, mp := range c.MountPoints {
		mm := fmt.Sprintf("%s.mountPoints[%d]", p, j)
		if !ctx.volumes[mp.SourceVolume] {
			return clientErr(mm+".sourceVolume", "%q is not a volume of the task definition", mp.SourceVolume)
		}
		if mp.ContainerPath == "" {
			return clientErr(mm+".containerPath", "required")
		}
	}
	if lp := c.LinuxParameters; lp != nil {
		for j, t := range lp.Tmpfs {
			if t.Size <= 0 {
				return clientErr(fmt.Sprintf("%s.linuxParameters.tmpfs[%d].size", p, j), "must be positive, got %d", t.Size)
			}
		}
		if lp.Swappiness != nil && (*lp.Swappiness < 0 || *lp.Swappiness > 100) {
			return clientErr(p+".linuxParameters.swappiness", "must be 0-100, got %d", *lp.Swappiness)
		}
	}
	return nil
}

// validateImage applies ECS's image reference rule: up to 255 characters
// before any @digest, and a digest must be sha256 with 64 hex digits.
func validateImage(image, member string) error {
	if image == "" {
		return clientErr(member, "required")
	}
	ref, digest, hasDigest := strings.Cut(image, "@")
	if len(ref) > 255 {
		return clientErr(member, "the image reference is %d characters; the limit is 255", len(ref))
	}
	if ref == "" || !imageRE.MatchString(ref) {
		return clientErr(member, "%q: letters, numbers, hyphens, underscores, colons, periods, forward slashes and number signs only", image)
	}
	if hasDigest && !digestRE.MatchString(digest) {
		return clientErr(member, "the digest %q must be sha256: followed by 64 hex digits", digest)
	}
	return nil
}

// validatePortMappings checks a container's port mappings and fills the
// protocol (tcp) and, in host and awsvpc mode, the host port (= the
// container port). In bridge mode an absent host port stays absent: the
// agent picks one from the ephemeral range.
func validatePortMappings(c *ecs.ContainerDefinition, p string, ctx *taskDefContext, portNames map[string]bool) error {
	if len(c.PortMappings) > 0 && ctx.networkMode == ecs.NetworkModeNone {
		return clientErr(p+".portMappings", "port mappings are not allowed with networkMode none")
	}
	type span struct {
		lo, hi int
		proto  string
	}
	var spans []span
	for j := range c.PortMappings {
		pm := &c.PortMappings[j]
		m := fmt.Sprintf("%s.portMappings[%d]", p, j)
		if pm.Protocol == "" {
			pm.Protocol = ecs.TransportProtocolTcp
		}
		if !ecs.ValidTransportProtocol(pm.Protocol) {
			return paramErr(m+".protocol", "%q is not one of tcp, udp", pm.Protocol)
		}
		if pm.AppProtocol != "" && !ecs.ValidApplicationProtocol(pm.AppProtocol) {
			return paramErr(m+".appProtocol", "%q is not one of http, http2, grpc", pm.AppProtocol)
		}
		if pm.Name != "" {
			if !portNameRE.MatchString(pm.Name) {
				return clientErr(m+".name", "up to 64 lowercase letters, numbers, underscores and hyphens, not starting with a hyphen")
			}
			if portNames[pm.Name] {
				return clientErr(m+".name", "duplicate port mapping name %q", pm.Name)
			}
			portNames[pm.Name] = true
		}
		var sp span
		switch {
		case pm.ContainerPort != nil && pm.ContainerPortRange != "":
			return clientErr(m, "set containerPort or containerPortRange, not both")
		case pm.ContainerPortRange != "":
			lo, hi, err := parsePortRange(pm.ContainerPortRange)
			if err != nil {
				return clientErr(m+".containerPortRange", "%v", err)
			}
			if pm.HostPort != nil {
				return clientErr(m+".hostPort", "must be absent with containerPortRange")
			}
			if ctx.networkMode != ecs.NetworkModeBridge && ctx.networkMode != ecs.NetworkModeAwsvpc {
				return clientErr(m+".containerPortRange", "port ranges need networkMode bridge or awsvpc")
			}
			sp = span{lo, hi, pm.Protocol}
		case pm.ContainerPort != nil:
			cp := *pm.ContainerPort
			if cp < 1 || cp > 65535 {
				return clientErr(m+".containerPort", "must be 1-65535, got %d", cp)
			}
			if pm.HostPort != nil && (*pm.HostPort < 0 || *pm.HostPort > 65535) {
				return clientErr(m+".hostPort", "must be 0-65535, got %d", *pm.HostPort)
			}
			if ctx.networkMode == ecs.NetworkModeHost || ctx.networkMode == ecs.NetworkModeAwsvpc {
				switch {
				case pm.HostPort == nil || *pm.HostPort == 0:
					hp := cp
					pm.HostPort = &hp
				case *pm.HostPort != cp:
					return clientErr(m+".hostPort", "with networkMode %s the host port must equal the container port (%d), got %d", ctx.networkMode, cp, *pm.HostPort)
				}
			}
			sp = span{int(cp), int(cp), pm.Protocol}
		default:
			return clientErr(m+".containerPort", "required (or containerPortRange)")
		}
		for _, o := range spans {
			if o.proto == sp.proto && sp.lo <= o.hi && o.lo <= sp.hi {
				return clientErr(m, "container port %d/%s is mapped twice", max(sp.lo, o.lo), sp.proto)
			}
		}
		spans = append(spans, sp)
	}
	return nil
}

func parsePortRange(r string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q is not a range FIRST-LAST", r)
	}
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, fmt.Errorf("%q is not a range FIRST-LAST", r)
	case lo < 1 || hi > 65535:
		return 0, 0, fmt.Errorf("%q: ports must be 1-65535", r)
	case lo >= hi:
		return 0, 0, fmt.Errorf("%q: the first port must be less than the last", r)
	}
	return lo, hi, nil
}

// validateHealthCheck applies the documented ranges and fills ECS's
// defaults (interval 30, timeout 5, retries 3).
func validateHealthCheck(hc *ecs.HealthCheck, member string) error {
	if hc == nil {
		return nil
	}
	if len(hc.Command) == 0 || (hc.Command[0] != "CMD" && hc.Command[0] != "CMD-SHELL") || len(hc.Command) < 2 {
		return clientErr(member+".command", `must start with "CMD" or "CMD-SHELL" followed by the command`)
	}
	ranges := []struct {
		name   string
		v      **int32
		lo, hi int32
		def    int32 // 0: no default
	}{
		{"interval", &hc.Interval, 5, 300, defaultHealthInterval},
		{"timeout", &hc.Timeout, 2, 60, defaultHealthTimeout},
		{"retries", &hc.Retries, 1, 10, defaultHealthRetries},
		{"startPeriod", &hc.StartPeriod, 0, 300, 0},
	}
	for _, r := range ranges {
		if *r.v == nil {
			if r.def != 0 {
				d := r.def
				*r.v = &d
			}
			continue
		}
		if n := **r.v; n < r.lo || n > r.hi {
			return clientErr(member+"."+r.name, "must be %d-%d, got %d", r.lo, r.hi, n)
		}
	}
	return nil
}

func validateTimeouts(c *ecs.ContainerDefinition, p string, fargate bool) error {
	check := func(v *int32, name string, ec2Max int32) error {
		if v == nil {
			return nil
		}
		if fargate && (*v < 2 || *v > maxFargateTimeout) {
			return clientErr(p+"."+name, "must be 2-%d seconds on Fargate, got %d", maxFargateTimeout, *v)
		}
		if *v < 0 || *v > ec2Max {
			return clientErr(p+"."+name, "must be 0-%d seconds, got %d", ec2Max, *v)
		}
		return nil
	}
	if err := check(c.StopTimeout, "stopTimeout", maxEC2StopTimeout); err != nil {
		return err
	}
	return check(c.StartTimeout, "startTimeout", maxEC2StopTimeout)
}

// validateUlimits checks names and that soft <= hard; -1 means unlimited.
func validateUlimits(uls []ecs.Ulimit, member string) error {
	seen := map[string]bool{}
	limit := func(v int32) int64 {
		if v == -1 {
			return math.MaxInt64
		}
		return int64(v)
	}
	for j, u := range uls {
		m := fmt.Sprintf("%s[%d]", member, j)
		if !ecs.ValidUlimitName(u.Name) {
			return paramErr(m+".name", "%q is not a ulimit ECS supports", u.Name)
		}
		if seen[u.Name] {
			return clientErr(m+".name", "duplicate ulimit %q", u.Name)
		}
		seen[u.Name] = true
		if u.SoftLimit < -1 || u.HardLimit < -1 {
			return clientErr(m, "limits must be -1 (unlimited) or more")
		}
		if limit(u.SoftLimit) > limit(u.HardLimit) {
			return clientErr(m+".softLimit", "%d is more than hardLimit %d", u.SoftLimit, u.HardLimit)
		}
	}
	return nil
}

// validateContainerRefs checks what container i says about the others:
// dependsOn, links and volumesFrom.
func validateContainerRefs(cds []ecs.ContainerDefinition, i int, ctx *taskDefContext) error {
	c := cds[i]
	p := fmt.Sprintf("containerDefinitions[%d]", i)
	other := func(name, member string) (ecs.ContainerDefinition, error) {
		j, ok := ctx.containers[name]
		switch {
		case !ok:
			return ecs.ContainerDefinition{}, clientErr(member, "%q is not a container of this task definition", name)
		case j == i:
			return ecs.ContainerDefinition{}, clientErr(member, "container %q cannot refer to itself", name)
		}
		return cds[j], nil
	}
	for j, d := range c.DependsOn {
		m := fmt.Sprintf("%s.dependsOn[%d]", p, j)
		if !ecs.ValidContainerCondition(d.Condition) {
			return paramErr(m+".condition", "%q is not one of START, COMPLETE, SUCCESS, HEALTHY", d.Condition)
		}
		dep, err := other(d.ContainerName, m+".containerName")
		if err != nil {
			return err
		}
		switch d.Condition {
		case ecs.ContainerConditionHEALTHY:
			if dep.HealthCheck == nil {
				return clientErr(m+".condition", "HEALTHY needs container %q to have a healthCheck", dep.Name)
			}
		case ecs.ContainerConditionCOMPLETE, ecs.ContainerConditionSUCCESS:
			if *dep.Essential {
				return clientErr(m+".condition", "%s cannot be set on essential container %q", d.Condition, dep.Name)
			}
		}
	}
	for j, l := range c.Links {
		name, _, _ := strings.Cut(l, ":")
		if _, err := other(name, fmt.Sprintf("%s.links[%d]", p, j)); err != nil {
			return err
		}
	}
	for j, vf := range c.VolumesFrom {
		if _, err := other(vf.SourceContainer, fmt.Sprintf("%s.volumesFrom[%d].sourceContainer", p, j)); err != nil {
			return err
		}
	}
	return nil
}

// dependencyCycle rejects dependsOn chains that loop: no container of the
// cycle could ever start.
func dependencyCycle(cds []ecs.ContainerDefinition) error {
	const (
		unvisited = iota
		visiting
		done
	)
	idx := map[string]int{}
	for i, c := range cds {
		idx[c.Name] = i
	}
	mark := make([]int, len(cds))
	var visit func(i int) bool
	visit = func(i int) bool {
		mark[i] = visiting
		for _, d := range cds[i].DependsOn {
			j := idx[d.ContainerName]
			if mark[j] == visiting || (mark[j] == unvisited && visit(j)) {
				return true
			}
		}
		mark[i] = done
		return false
	}
	for i := range cds {
		if mark[i] == unvisited && visit(i) {
			return clientErr(fmt.Sprintf("containerDefinitions[%d].dependsOn", i), "container dependencies form a cycle")
		}
	}
	return nil
}

// fargateProblem returns why td cannot run on Fargate, or "".
func fargateProblem(td *ecs.TaskDefinition, ctx taskDefContext) string {
	switch {
	case td.NetworkMode != ecs.NetworkModeAwsvpc:
		return "networkMode: Fargate only supports network mode awsvpc"
	case ctx.taskCPU == 0:
		return "cpu: Fargate requires task-level cpu"
	case ctx.taskMemory == 0:
		return "memory: Fargate requires task-level memory"
	case !fargateSizeOK(ctx.taskCPU, ctx.taskMemory):
		return fmt.Sprintf("memory: no Fargate configuration exists for %d CPU units and %d MiB", ctx.taskCPU, ctx.taskMemory)
	}
	for i, c := range td.ContainerDefinitions {
		p := fmt.Sprintf("containerDefinitions[%d]", i)
		switch {
		case c.Privileged != nil && *c.Privileged:
			return p + ".privileged: Fargate does not support privileged containers"
		case c.StopTimeout != nil && (*c.StopTimeout < 2 || *c.StopTimeout > maxFargateTimeout):
			return fmt.Sprintf("%s.stopTimeout: must be 2-%d seconds on Fargate", p, maxFargateTimeout)
		case c.StartTimeout != nil && (*c.StartTimeout < 2 || *c.StartTimeout > maxFargateTimeout):
			return fmt.Sprintf("%s.startTimeout: must be 2-%d seconds on Fargate", p, maxFargateTimeout)
		}
	}
	return ""
}

// compatibilities computes what ECS reports the definition validated
// against: EC2 always; EXTERNAL unless awsvpc (ECS Anywhere has no awsvpc);
// FARGATE when it meets Fargate's rules; MANAGED_INSTANCES when asked for.
func compatibilities(td *ecs.TaskDefinition, ctx taskDefContext) []string {
	var out []string
	if td.NetworkMode != ecs.NetworkModeAwsvpc {
		out = append(out, ecs.CompatibilityEXTERNAL)
	}
	out = append(out, ecs.CompatibilityEC2)
	if fargateProblem(td, ctx) == "" {
		out = append(out, ecs.CompatibilityFARGATE)
	}
	if slices.Contains(td.RequiresCompatibilities, ecs.CompatibilityMANAGEDINSTANCES) {
		out = append(out, ecs.CompatibilityMANAGEDINSTANCES)
	}
	return out
}

// fillTaskDefLists makes the lists ECS always returns non-nil, so they are
// emitted as [] the way ECS emits them.
func fillTaskDefLists(td *ecs.TaskDefinition) {
	if td.Volumes == nil {
		td.Volumes = []ecs.Volume{}
	}
	if td.PlacementConstraints == nil {
		td.PlacementConstraints = []ecs.TaskDefinitionPlacementConstraint{}
	}
	if td.RequiresAttributes == nil {
		td.RequiresAttributes = []ecs.Attribute{}
	}
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		if c.PortMappings == nil {
			c.PortMappings = []ecs.PortMapping{}
		}
		if c.Environment == nil {
			c.Environment = []ecs.KeyValuePair{}
		}
		if c.MountPoints == nil {
			c.MountPoints = []ecs.MountPoint{}
		}
		if c.VolumesFrom == nil {
			c.VolumesFrom = []ecs.VolumeFrom{}
		}
		if c.SystemControls == nil {
			c.SystemControls = []ecs.SystemControl{}
		}
	}
}
