package ecsapi

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Cluster status values (the model has no enum for them).
const (
	clusterActive   = "ACTIVE"
	clusterInactive = "INACTIVE"
)

func (s *Service) addClusterOps(m map[string]awsjson.Op) {
	m["CreateCluster"] = awsjson.Handle(s.CreateCluster)
	m["DescribeClusters"] = awsjson.Handle(s.DescribeClusters)
	m["ListClusters"] = awsjson.Handle(s.ListClusters)
	m["DeleteCluster"] = awsjson.Handle(s.DeleteCluster)
	m["UpdateCluster"] = awsjson.Handle(s.UpdateCluster)
	m["UpdateClusterSettings"] = awsjson.Handle(s.UpdateClusterSettings)
	m["PutClusterCapacityProviders"] = awsjson.Handle(s.PutClusterCapacityProviders)
}

// CreateCluster creates a cluster. Like ECS it is idempotent: creating an
// ACTIVE cluster again returns it unchanged; an INACTIVE one is recreated.
func (s *Service) CreateCluster(ctx context.Context, in *ecs.CreateClusterRequest) (*ecs.CreateClusterResponse, error) {
	name := in.ClusterName
	if name == "" {
		name = defaultCluster
	}
	if !nameRE.MatchString(name) {
		return nil, errInvalidParameter("clusterName: cluster names are 1-255 letters, digits, hyphens and underscores")
	}
	if err := validateSettings(in.Settings); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags, "tags"); err != nil {
		return nil, err
	}
	if err := validateCapacityProviderStrategy(in.DefaultCapacityProviderStrategy, "defaultCapacityProviderStrategy"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := state.ClusterKey(name)
	old, err := state.Get[ecs.Cluster](ctx, s.st, key)
	want := store.Absent
	switch {
	case err == nil && old.Value.Status == clusterActive:
		return &ecs.CreateClusterResponse{Cluster: s.clusterView(ctx, old.Value, nil)}, nil
	case err == nil:
		want = old.Revision
	case !state.IsNotFound(err):
		return nil, errServer(err)
	}
	c := &ecs.Cluster{
		ClusterArn:                      s.clusterARN(name),
		ClusterName:                     name,
		Status:                          clusterActive,
		CapacityProviders:               in.CapacityProviders,
		DefaultCapacityProviderStrategy: in.DefaultCapacityProviderStrategy,
		Configuration:                   in.Configuration,
		Settings:                        in.Settings,
		Tags:                            in.Tags,
	}
	if c.Settings == nil {
		c.Settings = []ecs.ClusterSetting{{Name: ecs.ClusterSettingNameContainerInsights, Value: "disabled"}}
	}
	if in.ServiceConnectDefaults != nil {
		c.ServiceConnectDefaults = &ecs.ClusterServiceConnectDefaults{Namespace: in.ServiceConnectDefaults.Namespace}
	}
	op, err := state.PutOp(key, c, want)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(err)
	}
	return &ecs.CreateClusterResponse{Cluster: s.clusterView(ctx, c, []string{ecs.ClusterFieldSETTINGS, ecs.ClusterFieldTAGS, ecs.ClusterFieldCONFIGURATIONS})}, nil
}

// activeCluster resolves a cluster name-or-ARN to its ACTIVE record, or
// ClusterNotFoundException.
func (s *Service) activeCluster(ctx context.Context, ref, member string) (string, state.Record[ecs.Cluster], error) {
	name, err := clusterName(ref, member)
	if err != nil {
		return "", state.Record[ecs.Cluster]{}, err
	}
	rec, err := state.Get[ecs.Cluster](ctx, s.st, state.ClusterKey(name))
	if state.IsNotFound(err) || (err == nil && rec.Value.Status != clusterActive) {
		return "", state.Record[ecs.Cluster]{}, errClusterNotFound()
	}
	if err != nil {
		return "", state.Record[ecs.Cluster]{}, errServer(err)
	}
	return name, rec, nil
}

// clusterCounts is what DescribeClusters reports about a cluster's contents.
type clusterCounts struct {
	activeServices, drainingServices int32
	running, pending                 int32
	instances                        int32
	// nonStoppedTasks counts every task not yet STOPPED (DeleteCluster refuses on it).
	nonStoppedTasks int32
}

func (s *Service) countCluster(ctx context.Context, name string) (clusterCounts, error) {
	var c clusterCounts
	if s.freshCache(ctx) {
		// The index keeps these counts: no record is visited.
		n := s.cache.ClusterCounts(name)
		return clusterCounts{
			activeServices:   int32(n.ActiveServices),
			drainingServices: int32(n.DrainingServices),
			running:          int32(n.Tasks.Running),
			pending:          int32(n.Tasks.Pending + n.Tasks.Stopping),
			instances:        int32(n.RegisteredInstances),
			nonStoppedTasks:  int32(n.Tasks.Live()),
		}, nil
	}
	svcs, err := state.List[ecs.Service](ctx, s.st, state.ServicesOf(name))
	if err != nil {
		return c, err
	}
	for _, r := range svcs {
		switch r.Value.Status {
		case "ACTIVE":
			c.activeServices++
		case "DRAINING":
			c.drainingServices++
		}
	}
	tasks, err := s.readTasks(ctx, name)
	if err != nil {
		return c, err
	}
	for _, r := range tasks {
		switch r.Value.LastStatus {
		case "RUNNING":
			c.running++
		case "STOPPED":
		default:
			c.pending++
		}
		if r.Value.LastStatus != "STOPPED" {
			c.nonStoppedTasks++
		}
	}
	insts, err := state.List[ecs.ContainerInstance](ctx, s.st, state.InstancesOf(name))
	if err != nil {
		return c, err
	}
	for _, r := range insts {
		if r.Value.Status != "INACTIVE" {
			c.instances++
		}
	}
	return c, nil
}

// clusterView returns the wire form of c with counts filled in and only the
// optional fields that include asks for.
func (s *Service) clusterView(ctx context.Context, c *ecs.Cluster, include []string) *ecs.Cluster {
	v := *c
	if v.Status == clusterActive {
		if n, err := s.countCluster(ctx, c.ClusterName); err == nil {
			v.ActiveServicesCount = n.activeServices
			v.RunningTasksCount = n.running
			v.PendingTasksCount = n.pending
			v.RegisteredContainerInstancesCount = n.instances
			if slices.Contains(include, ecs.ClusterFieldSTATISTICS) {
				v.Statistics = []ecs.KeyValuePair{
					{Name: "runningEC2TasksCount", Value: strconv.Itoa(int(n.running))},
					{Name: "pendingEC2TasksCount", Value: strconv.Itoa(int(n.pending))},
					{Name: "activeEC2ServiceCount", Value: strconv.Itoa(int(n.activeServices))},
					{Name: "drainingEC2ServiceCount", Value: strconv.Itoa(int(n.drainingServices))},
				}
			}
		} else {
			s.log.Warn("count cluster", "cluster", c.ClusterName, "err", err)
		}
	}
	if !slices.Contains(include, ecs.ClusterFieldSETTINGS) {
		v.Settings = nil
	}
	if !slices.Contains(include, ecs.ClusterFieldTAGS) {
		v.Tags = nil
	}
	if !slices.Contains(include, ecs.ClusterFieldCONFIGURATIONS) {
		v.Configuration = nil
	}
	if !slices.Contains(include, ecs.ClusterFieldATTACHMENTS) {
		v.Attachments = nil
	}
	return &v
}

// DescribeClusters describes up to 100 clusters; unknown ones come back as
// failures with reason MISSING.
func (s *Service) DescribeClusters(ctx context.Context, in *ecs.DescribeClustersRequest) (*ecs.DescribeClustersResponse, error) {
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{defaultCluster}
	}
	if len(refs) > 100 {
		return nil, errInvalidParameter("clusters: at most 100 clusters per request, got %d", len(refs))
	}
	for i, f := range in.Include {
		if !ecs.ValidClusterField(f) {
			return nil, errInvalidParameter("include[%d]: %q is not one of ATTACHMENTS, CONFIGURATIONS, SETTINGS, STATISTICS, TAGS", i, f)
		}
	}
	out := &ecs.DescribeClustersResponse{Clusters: []ecs.Cluster{}, Failures: []ecs.Failure{}}
	for i, ref := range refs {
		name, err := clusterName(ref, "clusters["+strconv.Itoa(i)+"]")
		if err != nil {
			out.Failures = append(out.Failures, ecs.Failure{Arn: ref, Reason: "MISSING"})
			continue
		}
		rec, err := state.Get[ecs.Cluster](ctx, s.st, state.ClusterKey(name))
		if state.IsNotFound(err) {
			out.Failures = append(out.Failures, ecs.Failure{Arn: s.clusterARN(name), Reason: "MISSING"})
			continue
		}
		if err != nil {
			return nil, errServer(err)
		}
		out.Clusters = append(out.Clusters, *s.clusterView(ctx, rec.Value, in.Include))
	}
	return out, nil
}

// ListClusters lists the ARNs of ACTIVE clusters.
func (s *Service) ListClusters(ctx context.Context, in *ecs.ListClustersRequest) (*ecs.ListClustersResponse, error) {
	recs, err := state.List[ecs.Cluster](ctx, s.st, state.ClustersPrefix)
	if err != nil {
		return nil, errServer(err)
	}
	names := make([]string, 0, len(recs))
	for _, r := range recs {
		if r.Value.Status == clusterActive {
			names = append(names, r.Value.ClusterName)
		}
	}
	pg, next, err := page(names, func(n string) string { return n }, in.NextToken, in.MaxResults, defaultMaxResults)
	if err != nil {
		return nil, err
	}
	out := &ecs.ListClustersResponse{ClusterArns: make([]string, 0, len(pg)), NextToken: next}
	for _, n := range pg {
		out.ClusterArns = append(out.ClusterArns, s.clusterARN(n))
	}
	return out, nil
}

// DeleteCluster marks a cluster INACTIVE. It refuses while the cluster has
// registered instances, active or draining services, or tasks not STOPPED.
func (s *Service) DeleteCluster(ctx context.Context, in *ecs.DeleteClusterRequest) (*ecs.DeleteClusterResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, rec, err := s.activeCluster(ctx, in.Cluster, "cluster")
	if err != nil {
		return nil, err
	}
	n, err := s.countCluster(ctx, name)
	if err != nil {
		return nil, errServer(err)
	}
	switch {
	case n.instances > 0:
		return nil, awsErr(ecs.ErrClusterContainsContainerInstances, "The Cluster cannot be deleted while Container Instances are active or draining.")
	case n.activeServices+n.drainingServices > 0:
		return nil, awsErr(ecs.ErrClusterContainsServices, "The Cluster cannot be deleted while Services are active.")
	case n.nonStoppedTasks > 0:
		return nil, awsErr(ecs.ErrClusterContainsTasks, "The Cluster cannot be deleted while Tasks are active.")
	}
	c := *rec.Value
	c.Status = clusterInactive
	op, err := state.PutOp(state.ClusterKey(name), &c, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	return &ecs.DeleteClusterResponse{Cluster: s.clusterView(ctx, &c, nil)}, nil
}

// UpdateCluster changes a cluster's settings and configuration.
func (s *Service) UpdateCluster(ctx context.Context, in *ecs.UpdateClusterRequest) (*ecs.UpdateClusterResponse, error) {
	if err := validateSettings(in.Settings); err != nil {
		return nil, err
	}
	c, err := s.mutateCluster(ctx, in.Cluster, func(c *ecs.Cluster) {
		if in.Settings != nil {
			c.Settings = mergeSettings(c.Settings, in.Settings)
		}
		if in.Configuration != nil {
			c.Configuration = in.Configuration
		}
		if in.ServiceConnectDefaults != nil {
			c.ServiceConnectDefaults = &ecs.ClusterServiceConnectDefaults{Namespace: in.ServiceConnectDefaults.Namespace}
		}
	})
	if err != nil {
		return nil, err
	}
	return &ecs.UpdateClusterResponse{Cluster: s.clusterView(ctx, c, []string{ecs.ClusterFieldSETTINGS, ecs.ClusterFieldCONFIGURATIONS})}, nil
}

// UpdateClusterSettings changes a cluster's settings.
func (s *Service) UpdateClusterSettings(ctx context.Context, in *ecs.UpdateClusterSettingsRequest) (*ecs.UpdateClusterSettingsResponse, error) {
	if err := validateSettings(in.Settings); err != nil {
		return nil, err
	}
	c, err := s.mutateCluster(ctx, in.Cluster, func(c *ecs.Cluster) { c.Settings = mergeSettings(c.Settings, in.Settings) })
	if err != nil {
		return nil, err
	}
	return &ecs.UpdateClusterSettingsResponse{Cluster: s.clusterView(ctx, c, []string{ecs.ClusterFieldSETTINGS})}, nil
}

// PutClusterCapacityProviders stores a cluster's capacity providers and
// default strategy. berth accepts and returns them; placement does not use
// them yet.
func (s *Service) PutClusterCapacityProviders(ctx context.Context, in *ecs.PutClusterCapacityProvidersRequest) (*ecs.PutClusterCapacityProvidersResponse, error) {
	if err := validateCapacityProviderStrategy(in.DefaultCapacityProviderStrategy, "defaultCapacityProviderStrategy"); err != nil {
		return nil, err
	}
	for _, item := range in.DefaultCapacityProviderStrategy {
		if !slices.Contains(in.CapacityProviders, item.CapacityProvider) {
			return nil, errInvalidParameter("defaultCapacityProviderStrategy: capacity provider %q is not in capacityProviders", item.CapacityProvider)
		}
	}
	c, err := s.mutateCluster(ctx, in.Cluster, func(c *ecs.Cluster) {
		c.CapacityProviders = in.CapacityProviders
		c.DefaultCapacityProviderStrategy = in.DefaultCapacityProviderStrategy
	})
	if err != nil {
		return nil, err
	}
	return &ecs.PutClusterCapacityProvidersResponse{Cluster: s.clusterView(ctx, c, nil)}, nil
}

// mutateCluster applies f to an ACTIVE cluster and stores it with
// compare-and-swap.
func (s *Service) mutateCluster(ctx context.Context, ref string, f func(*ecs.Cluster)) (*ecs.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, rec, err := s.activeCluster(ctx, ref, "cluster")
	if err != nil {
		return nil, err
	}
	c := rec.Value
	f(c)
	op, err := state.PutOp(state.ClusterKey(name), c, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	return c, nil
}

func mergeSettings(old, upd []ecs.ClusterSetting) []ecs.ClusterSetting {
	out := slices.Clone(old)
	for _, u := range upd {
		i := slices.IndexFunc(out, func(s ecs.ClusterSetting) bool { return s.Name == u.Name })
		if i >= 0 {
			out[i] = u
		} else {
			out = append(out, u)
		}
	}
	return out
}

func validateSettings(settings []ecs.ClusterSetting) error {
	for i, st := range settings {
		if !ecs.ValidClusterSettingName(st.Name) {
			return errInvalidParameter("settings[%d].name: %q is not a cluster setting (containerInsights)", i, st.Name)
		}
		switch st.Value {
		case "enabled", "disabled", "enhanced":
		default:
			return errInvalidParameter("settings[%d].value: %q must be enabled, disabled or enhanced", i, st.Value)
		}
	}
	return nil
}

func validateCapacityProviderStrategy(items []ecs.CapacityProviderStrategyItem, member string) error {
	if len(items) > 20 {
		return errInvalidParameter("%s: at most 20 items", member)
	}
	bases := 0
	for i, it := range items {
		if it.CapacityProvider == "" {
			return errInvalidParameter("%s[%d].capacityProvider: required", member, i)
		}
		if it.Weight < 0 || it.Weight > 1000 {
			return errInvalidParameter("%s[%d].weight: must be 0-1000", member, i)
		}
		if it.Base < 0 || it.Base > 100000 {
			return errInvalidParameter("%s[%d].base: must be 0-100000", member, i)
		}
		if it.Base > 0 {
			bases++
		}
	}
	if bases > 1 {
		return errInvalidParameter("%s: only one capacity provider may have a base", member)
	}
	return nil
}

// conflictAsServer turns a store conflict under s.mu (another writer got in
// between) into a retryable error for the caller.
func conflictAsServer(err error) error {
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return awsErr(ecs.ErrUpdateInProgress, "The resource was changed by another request; retry.")
	}
	return err
}
