package ecsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/berth-io/berth/api/ecs"
	"github.com/berth-io/berth/internal/awsjson"
	"github.com/berth-io/berth/internal/state"
	"github.com/berth-io/berth/internal/store"
)

// Task definitions.
//
// Storage: state.FamilyKey(family) holds the family's revision counter
// (state.Family.LastRevision), state.TaskDefKey(family, rev) one revision
// (state.TaskDefinition: the wire definition plus its tags). Revisions start
// at 1 and are never reused, even after DeleteTaskDefinitions.
//
// Registration is pipelined: the next revision is taken from an in-memory
// counter under s.mu (seeded from the family record and the family's last
// stored revision), and the write — the revision created only if absent,
// the counter raised — commits after s.mu is released, so concurrent
// registrations share one fsync (the store's group commit). A failed write
// drops the family's counter, to be seeded again from the store. The
// counter is this process's: an HA setup must seed it again on taking over.
//
// A revision's life:
//
//	RegisterTaskDefinition         DeregisterTaskDefinition           DeleteTaskDefinitions
//	──────────────────────► ACTIVE ────────────────────────► INACTIVE ─────────────────────► DELETE_IN_PROGRESS
//
// DELETE_IN_PROGRESS revisions are kept (status and deleteRequestedAt set),
// as ECS keeps them while tasks or services still use them: they stay
// describable by family:revision, listable with status DELETE_IN_PROGRESS,
// and their family keeps appearing in ListTaskDefinitionFamilies. Nothing
// removes them yet; a reaper that deletes them once no task or service
// refers to them belongs in a controller.

// Task definition status values.
const (
	taskDefActive           = ecs.TaskDefinitionStatusACTIVE
	taskDefInactive         = ecs.TaskDefinitionStatusINACTIVE
	taskDefDeleteInProgress = ecs.TaskDefinitionStatusDELETEINPROGRESS
)

func (s *Service) addTaskDefinitionOps(m map[string]awsjson.Op) {
	m["RegisterTaskDefinition"] = awsjson.Handle(s.RegisterTaskDefinition)
	m["DescribeTaskDefinition"] = awsjson.Handle(s.DescribeTaskDefinition)
	m["ListTaskDefinitions"] = awsjson.Handle(s.ListTaskDefinitions)
	m["ListTaskDefinitionFamilies"] = awsjson.Handle(s.ListTaskDefinitionFamilies)
	m["DeregisterTaskDefinition"] = awsjson.Handle(s.DeregisterTaskDefinition)
	m["DeleteTaskDefinitions"] = awsjson.Handle(s.DeleteTaskDefinitions)
}

// RegisterTaskDefinition validates a task definition and stores it as the
// family's next revision.
func (s *Service) RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionRequest) (*ecs.RegisterTaskDefinitionResponse, error) {
	td, err := taskDefFromRequest(in)
	if err != nil {
		return nil, errServer(err)
	}
	if err := normalizeTaskDefinition(td); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags, "tags"); err != nil {
		return nil, err
	}
	td.Status = taskDefActive
	td.RegisteredAt = ecs.NewTime(s.nowUTC())
	td.RegisteredBy = fmt.Sprintf("arn:aws:iam::%s:root", s.account)
	rec := &state.TaskDefinition{TaskDefinition: *td, Tags: in.Tags}
	if b, err := json.Marshal(rec); err != nil {
		return nil, errServer(err)
	} else if len(b) > maxTaskDefBytes {
		return nil, errClient("containerDefinitions: the task definition is %d bytes of JSON; the limit is %d", len(b), maxTaskDefBytes)
	}

	rev, err := s.nextTaskDefRevision(ctx, td.Family)
	if err != nil {
		return nil, errServer(err)
	}
	rec.Revision = rev
	rec.TaskDefinitionArn = s.taskDefARN(td.Family, rev)
	famOp, err := state.PutOp(state.FamilyKey(td.Family), &state.Family{Name: td.Family, LastRevision: rev}, store.Any)
	if err != nil {
		return nil, errServer(err)
	}
	tdOp, err := state.PutOp(state.TaskDefKey(td.Family, rev), rec, store.Absent)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, famOp, tdOp); err != nil {
		s.mu.Lock()
		delete(s.taskDefRevs, td.Family)
		s.mu.Unlock()
		return nil, errServer(conflictAsServer(err))
	}
	return &ecs.RegisterTaskDefinitionResponse{TaskDefinition: &rec.TaskDefinition, Tags: in.Tags}, nil
}

// nextTaskDefRevision allocates the family's next revision number.
func (s *Service) nextTaskDefRevision(ctx context.Context, family string) (int32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.taskDefRevs[family]
	if !ok {
		fam, err := state.Get[state.Family](ctx, s.st, state.FamilyKey(family))
		switch {
		case err == nil:
			last = fam.Value.LastRevision
		case !state.IsNotFound(err):
			return 0, err
		}
		// A counter write may have lost a race with a later one before a
		// crash: the revisions stored are the truth.
		kvs, _, err := s.st.List(ctx, state.TaskDefFamilyPrefix(family))
		if err != nil {
			return 0, err
		}
		if n := len(kvs); n > 0 {
			var r state.TaskDefinition
			if err := json.Unmarshal(kvs[n-1].Value, &r); err != nil {
				return 0, fmt.Errorf("decode %s: %w", kvs[n-1].Key, err)
			}
			last = max(last, r.Revision)
		}
	}
	s.taskDefRevs[family] = last + 1
	return last + 1, nil
}

// taskDefFromRequest copies every member the request shares with the wire
// TaskDefinition (all but tags) through JSON, so no member can be dropped
// and the result shares no memory with the request.
func taskDefFromRequest(in *ecs.RegisterTaskDefinitionRequest) (*ecs.TaskDefinition, error) {
	req := *in
	req.Tags = nil
	b, err := json.Marshal(&req)
	if err != nil {
		return nil, fmt.Errorf("encode task definition: %w", err)
	}
	td := new(ecs.TaskDefinition)
	if err := json.Unmarshal(b, td); err != nil {
		return nil, fmt.Errorf("decode task definition: %w", err)
	}
	return td, nil
}

// taskDefRecord resolves "family" (its latest ACTIVE revision),
// "family:revision" or a task definition ARN to the stored record. found is
// false when there is no such revision (or, for a bare family, no ACTIVE
// one); err is an InvalidParameterException for a malformed reference or a
// store error.
func (s *Service) taskDefRecord(ctx context.Context, ref, member string) (rec state.Record[state.TaskDefinition], found bool, err error) {
	family, rev, err := taskDefRef(ref, member)
	if err != nil {
		return rec, false, err
	}
	if rev != 0 {
		rec, err = state.Get[state.TaskDefinition](ctx, s.st, state.TaskDefKey(family, rev))
		if state.IsNotFound(err) {
			return rec, false, nil
		}
		if err != nil {
			return rec, false, errServer(err)
		}
		return rec, true, nil
	}
	recs, err := state.List[state.TaskDefinition](ctx, s.st, state.TaskDefFamilyPrefix(family))
	if err != nil {
		return rec, false, errServer(err)
	}
	// Keys are zero-padded revisions, so the list is in revision order.
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Value.Status == taskDefActive {
			return recs[i], true, nil
		}
	}
	return rec, false, nil
}

// DescribeTaskDefinition describes a revision: the latest ACTIVE one for a
// bare family, any status for family:revision or an ARN.
func (s *Service) DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionRequest) (*ecs.DescribeTaskDefinitionResponse, error) {
	for i, f := range in.Include {
		if !ecs.ValidTaskDefinitionField(f) {
			return nil, errInvalidParameter("include[%d]: %q is not TAGS", i, f)
		}
	}
	rec, found, err := s.taskDefRecord(ctx, in.TaskDefinition, "taskDefinition")
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errClient("Unable to describe task definition.")
	}
	out := &ecs.DescribeTaskDefinitionResponse{TaskDefinition: &rec.Value.TaskDefinition}
	if slices.Contains(in.Include, ecs.TaskDefinitionFieldTAGS) {
		out.Tags = rec.Value.Tags
		if out.Tags == nil {
			out.Tags = []ecs.Tag{}
		}
	}
	return out, nil
}

// taskDefEntry is one revision in a listing.
type taskDefEntry struct {
	family string
	rev    int32
	status string
}

// listTaskDefEntries lists every stored revision under prefix (all
// families, or one family's) without keeping the definitions.
func (s *Service) listTaskDefEntries(ctx context.Context, prefix string) ([]taskDefEntry, error) {
	type head struct {
		Family   string `json:"family"`
		Revision int32  `json:"revision"`
		Status   string `json:"status"`
	}
	recs, err := state.List[head](ctx, s.st, prefix)
	if err != nil {
		return nil, errServer(err)
	}
	out := make([]taskDefEntry, 0, len(recs))
	for _, r := range recs {
		out = append(out, taskDefEntry{family: r.Value.Family, rev: r.Value.Revision, status: r.Value.Status})
	}
	return out, nil
}

// ListTaskDefinitions lists revision ARNs by status (ACTIVE by default),
// sorted by family then revision number, ascending or descending. As in
// ECS, familyPrefix is the full family name: it selects that family's
// revisions, not families starting with it.
func (s *Service) ListTaskDefinitions(ctx context.Context, in *ecs.ListTaskDefinitionsRequest) (*ecs.ListTaskDefinitionsResponse, error) {
	status := in.Status
	if status == "" {
		status = taskDefActive
	}
	if !ecs.ValidTaskDefinitionStatus(status) {
		return nil, errInvalidParameter("status: %q is not one of ACTIVE, INACTIVE, DELETE_IN_PROGRESS", in.Status)
	}
	order := in.Sort
	if order == "" {
		order = ecs.SortOrderASC
	}
	if !ecs.ValidSortOrder(order) {
		return nil, errInvalidParameter("sort: %q is not one of ASC, DESC", in.Sort)
	}
	prefix := state.TaskDefsPrefix
	if in.FamilyPrefix != "" {
		if !nameRE.MatchString(in.FamilyPrefix) {
			return nil, errInvalidParameter("familyPrefix: task definition families are up to 255 letters, digits, hyphens and underscores")
		}
		prefix = state.TaskDefFamilyPrefix(in.FamilyPrefix)
	}
	all, err := s.listTaskDefEntries(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var entries []taskDefEntry
	for _, e := range all {
		if e.status == status {
			entries = append(entries, e)
		}
	}
	key := taskDefSortKey
	if order == ecs.SortOrderDESC {
		key = taskDefSortKeyDesc
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	pg, next, err := page(entries, key, in.NextToken, in.MaxResults, defaultMaxResults)
	if err != nil {
		return nil, err
	}
	out := &ecs.ListTaskDefinitionsResponse{TaskDefinitionArns: make([]string, 0, len(pg)), NextToken: next}
	for _, e := range pg {
		out.TaskDefinitionArns = append(out.TaskDefinitionArns, s.taskDefARN(e.family, e.rev))
	}
	return out, nil
}

// taskDefSortKey orders revisions by family, then revision number: the
// family, a NUL (below every family character, so "web" < "web-2"), and
// the zero-padded revision.
func taskDefSortKey(e taskDefEntry) string {
	return fmt.Sprintf("%s\x00%010d", e.family, e.rev)
}

// taskDefSortKeyDesc orders revisions by family descending, then revision
// descending, as an ascending key (page() needs one): family bytes are
// complemented, and 0xFF (above every complemented family character) ends
// the family so "web-2" sorts before "web"; the revision is subtracted from
// the largest.
func taskDefSortKeyDesc(e taskDefEntry) string {
	b := make([]byte, 0, len(e.family)+11)
	for i := 0; i < len(e.family); i++ {
		b = append(b, 0xFF-e.family[i])
	}
	b = append(b, 0xFF)
	return string(b) + fmt.Sprintf("%010d", int64(1<<31-1)-int64(e.rev))
}

// ListTaskDefinitionFamilies lists family names: with status ACTIVE those
// with an ACTIVE revision, INACTIVE those without one, ALL (the default)
// both. A family whose revisions have all been removed is not listed.
func (s *Service) ListTaskDefinitionFamilies(ctx context.Context, in *ecs.ListTaskDefinitionFamiliesRequest) (*ecs.ListTaskDefinitionFamiliesResponse, error) {
	status := in.Status
	if status == "" {
		status = ecs.TaskDefinitionFamilyStatusALL
	}
	if !ecs.ValidTaskDefinitionFamilyStatus(status) {
		return nil, errInvalidParameter("status: %q is not one of ACTIVE, INACTIVE, ALL", in.Status)
	}
	all, err := s.listTaskDefEntries(ctx, state.TaskDefsPrefix)
	if err != nil {
		return nil, err
	}
	active := map[string]bool{}
	var names []string
	for _, e := range all {
		if !strings.HasPrefix(e.family, in.FamilyPrefix) {
			continue
		}
		if _, seen := active[e.family]; !seen {
			names = append(names, e.family)
			active[e.family] = false
		}
		if e.status == taskDefActive {
			active[e.family] = true
		}
	}
	var families []string
	for _, n := range names {
		switch {
		case status == ecs.TaskDefinitionFamilyStatusACTIVE && !active[n]:
		case status == ecs.TaskDefinitionFamilyStatusINACTIVE && active[n]:
		default:
			families = append(families, n)
		}
	}
	sort.Strings(families)
	pg, next, err := page(families, func(n string) string { return n }, in.NextToken, in.MaxResults, defaultMaxResults)
	if err != nil {
		return nil, err
	}
	return &ecs.ListTaskDefinitionFamiliesResponse{Families: append([]string{}, pg...), NextToken: next}, nil
}

// DeregisterTaskDefinition marks a revision INACTIVE. A revision is
// required: ECS does not pick one for a bare family. Deregistering an
// INACTIVE revision returns it unchanged.
func (s *Service) DeregisterTaskDefinition(ctx context.Context, in *ecs.DeregisterTaskDefinitionRequest) (*ecs.DeregisterTaskDefinitionResponse, error) {
	family, rev, err := taskDefRef(in.TaskDefinition, "taskDefinition")
	if err != nil {
		return nil, err
	}
	if rev == 0 {
		return nil, errClient("taskDefinition: a revision is required (family:revision or the task definition ARN)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := state.TaskDefKey(family, rev)
	rec, err := state.Get[state.TaskDefinition](ctx, s.st, key)
	if state.IsNotFound(err) {
		return nil, errClient("taskDefinition: the specified task definition does not exist")
	}
	if err != nil {
		return nil, errServer(err)
	}
	td := rec.Value
	switch td.Status {
	case taskDefInactive:
		return &ecs.DeregisterTaskDefinitionResponse{TaskDefinition: &td.TaskDefinition}, nil
	case taskDefDeleteInProgress:
		return nil, errClient("taskDefinition: the task definition is being deleted and cannot be deregistered")
	}
	td.Status = taskDefInactive
	td.DeregisteredAt = ecs.NewTime(s.nowUTC())
	op, err := state.PutOp(key, td, rec.Revision)
	if err != nil {
		return nil, errServer(err)
	}
	if _, err := s.st.Txn(ctx, op); err != nil {
		return nil, errServer(conflictAsServer(err))
	}
	return &ecs.DeregisterTaskDefinitionResponse{TaskDefinition: &td.TaskDefinition}, nil
}

// Failure reasons of DeleteTaskDefinitions.
const (
	reasonTaskDefInvalid  = "The specified task definition identifier is invalid: give family:revision or the task definition ARN."
	reasonTaskDefNotFound = "The specified task definition does not exist."
	reasonTaskDefActive   = "The specified task definition is still ACTIVE: deregister it first."
)

// DeleteTaskDefinitions moves up to 10 INACTIVE revisions to
// DELETE_IN_PROGRESS (in one transaction). Revisions that are missing,
// malformed or still ACTIVE come back as failures; a revision already
// DELETE_IN_PROGRESS is returned again.
func (s *Service) DeleteTaskDefinitions(ctx context.Context, in *ecs.DeleteTaskDefinitionsRequest) (*ecs.DeleteTaskDefinitionsResponse, error) {
	if len(in.TaskDefinitions) < 1 || len(in.TaskDefinitions) > 10 {
		return nil, errInvalidParameter("taskDefinitions: give 1-10 task definitions, got %d", len(in.TaskDefinitions))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &ecs.DeleteTaskDefinitionsResponse{TaskDefinitions: []ecs.TaskDefinition{}, Failures: []ecs.Failure{}}
	var ops []store.Op
	done := map[string]bool{}
	now := ecs.NewTime(s.nowUTC())
	for i, ref := range in.TaskDefinitions {
		family, rev, err := taskDefRef(ref, fmt.Sprintf("taskDefinitions[%d]", i))
		if err != nil || rev == 0 {
			out.Failures = append(out.Failures, ecs.Failure{Arn: ref, Reason: reasonTaskDefInvalid})
			continue
		}
		arn, key := s.taskDefARN(family, rev), state.TaskDefKey(family, rev)
		if done[key] {
			continue
		}
		rec, err := state.Get[state.TaskDefinition](ctx, s.st, key)
		if state.IsNotFound(err) {
			out.Failures = append(out.Failures, ecs.Failure{Arn: arn, Reason: reasonTaskDefNotFound})
			continue
		}
		if err != nil {
			return nil, errServer(err)
		}
		td := rec.Value
		switch td.Status {
		case taskDefActive:
			out.Failures = append(out.Failures, ecs.Failure{Arn: arn, Reason: reasonTaskDefActive})
			continue
		case taskDefInactive:
			td.Status = taskDefDeleteInProgress
			td.DeleteRequestedAt = now
			op, err := state.PutOp(key, td, rec.Revision)
			if err != nil {
				return nil, errServer(err)
			}
			ops = append(ops, op)
		}
		done[key] = true
		out.TaskDefinitions = append(out.TaskDefinitions, td.TaskDefinition)
	}
	if len(ops) > 0 {
		if _, err := s.st.Txn(ctx, ops...); err != nil {
			return nil, errServer(conflictAsServer(err))
		}
	}
	return out, nil
}
