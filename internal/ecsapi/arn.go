package ecsapi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ARNs follow ECS's long format:
//
//	arn:aws:ecs:REGION:ACCOUNT:cluster/NAME
//	arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME
//	arn:aws:ecs:REGION:ACCOUNT:task/CLUSTER/ID
//	arn:aws:ecs:REGION:ACCOUNT:container-instance/CLUSTER/ID
//	arn:aws:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION

// defaultCluster is used when a request names no cluster, as in ECS.
const defaultCluster = "default"

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,255}$`)

func (s *Service) arn(resource string) string {
	return fmt.Sprintf("arn:aws:ecs:%s:%s:%s", s.region, s.account, resource)
}

func (s *Service) clusterARN(name string) string { return s.arn("cluster/" + name) }
func (s *Service) serviceARN(cluster, name string) string {
	return s.arn("service/" + cluster + "/" + name)
}
func (s *Service) taskARN(cluster, id string) string { return s.arn("task/" + cluster + "/" + id) }
func (s *Service) instanceARN(cluster, id string) string {
	return s.arn("container-instance/" + cluster + "/" + id)
}
func (s *Service) taskDefARN(family string, rev int32) string {
	return s.arn(fmt.Sprintf("task-definition/%s:%d", family, rev))
}

// parsedARN is an ECS ARN split into its resource type and path.
type parsedARN struct {
	Region, Account string
	Type            string   // "cluster", "service", "task", ...
	Path            []string // the parts after the type, split on "/"
}

// parseARN splits an ECS ARN. ok is false for anything that is not one.
func parseARN(s string) (parsedARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecs" {
		return parsedARN{}, false
	}
	typ, rest, found := strings.Cut(parts[5], "/")
	if !found || rest == "" {
		return parsedARN{}, false
	}
	return parsedARN{Region: parts[3], Account: parts[4], Type: typ, Path: strings.Split(rest, "/")}, true
}

// clusterName resolves a cluster name-or-ARN ("" means default). The member
// name goes into the error so the caller knows which field was wrong.
func clusterName(ref, member string) (string, error) {
	if ref == "" {
		return defaultCluster, nil
	}
	if strings.HasPrefix(ref, "arn:") {
		a, ok := parseARN(ref)
		if !ok || a.Type != "cluster" || len(a.Path) != 1 {
			return "", errInvalidParameter("%s: %q is not a cluster ARN (arn:aws:ecs:REGION:ACCOUNT:cluster/NAME)", member, ref)
		}
		ref = a.Path[0]
	}
	if !nameRE.MatchString(ref) {
		return "", errInvalidParameter("%s: cluster names are 1-255 letters, digits, hyphens and underscores", member)
	}
	return ref, nil
}

// serviceName resolves a service name-or-ARN. An ARN also names its cluster
// (new format service/CLUSTER/NAME); cluster is "" when it does not.
func serviceName(ref, member string) (cluster, name string, err error) {
	if strings.HasPrefix(ref, "arn:") {
		a, ok := parseARN(ref)
		if !ok || a.Type != "service" || len(a.Path) < 1 || len(a.Path) > 2 {
			return "", "", errInvalidParameter("%s: %q is not a service ARN", member, ref)
		}
		if len(a.Path) == 2 {
			cluster = a.Path[0]
		}
		ref = a.Path[len(a.Path)-1]
	}
	if !nameRE.MatchString(ref) {
		return "", "", errInvalidParameter("%s: service names are 1-255 letters, digits, hyphens and underscores", member)
	}
	return cluster, ref, nil
}

// idRef resolves a task or container-instance ID-or-ARN of the given type.
func idRef(ref, typ, member string) (cluster, id string, err error) {
	if strings.HasPrefix(ref, "arn:") {
		a, ok := parseARN(ref)
		if !ok || a.Type != typ || len(a.Path) < 1 || len(a.Path) > 2 {
			return "", "", errInvalidParameter("%s: %q is not a %s ARN", member, ref, typ)
		}
		if len(a.Path) == 2 {
			cluster = a.Path[0]
		}
		ref = a.Path[len(a.Path)-1]
	}
	if ref == "" || len(ref) > 255 || strings.ContainsAny(ref, "/:") {
		return "", "", errInvalidParameter("%s: %q is not a valid %s ID", member, ref, typ)
	}
	return cluster, ref, nil
}

// taskDefRef resolves "family", "family:rev" or a task definition ARN. rev
// is 0 when only the family is given (meaning the latest ACTIVE revision).
func taskDefRef(ref, member string) (family string, rev int32, err error) {
	if strings.HasPrefix(ref, "arn:") {
		a, ok := parseARN(ref)
		if !ok || a.Type != "task-definition" || len(a.Path) != 1 {
			return "", 0, errInvalidParameter("%s: %q is not a task definition ARN", member, ref)
		}
		ref = a.Path[0]
	}
	family, revStr, hasRev := strings.Cut(ref, ":")
	if !nameRE.MatchString(family) {
		return "", 0, errInvalidParameter("%s: task definition family %q: up to 255 letters, digits, hyphens and underscores", member, family)
	}
	if hasRev {
		n, perr := strconv.ParseInt(revStr, 10, 32)
		if perr != nil || n < 1 {
			return "", 0, errInvalidParameter("%s: revision %q is not a positive integer", member, revStr)
		}
		rev = int32(n)
	}
	return family, rev, nil
}
