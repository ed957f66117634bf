package logsapi

import (
	"context"
	"slices"
	"strings"

	"github.com/berth-io/berth/api/logs"
	"github.com/berth-io/berth/internal/logstore"
)

const (
	describeLimit = 50 // DescribeLogGroups, DescribeLogStreams
	maxTags       = 50
)

// CreateLogGroup creates a log group with no retention policy.
func (s *Service) CreateLogGroup(ctx context.Context, in *logs.CreateLogGroupRequest) (*Empty, error) {
	if err := validGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.LogGroupName, "aws/") {
		return nil, errInvalidParameter("logGroupName: Log group names cannot start with aws/")
	}
	class := in.LogGroupClass
	if class == "" {
		class = logs.LogGroupClassSTANDARD
	}
	if !logs.ValidLogGroupClass(class) {
		return nil, errInvalidParameter("logGroupClass: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]")
	}
	if in.KmsKeyId != "" {
		return nil, errInvalidParameter("kmsKeyId: berth does not encrypt log groups with KMS keys")
	}
	if in.DeletionProtectionEnabled {
		return nil, errInvalidParameter("deletionProtectionEnabled: berth does not support deletion protection")
	}
	if in.Tags != nil && (len(in.Tags) < 1 || len(in.Tags) > maxTags) {
		return nil, errInvalidParameter("tags: Member must have between 1 and %d entries", maxTags)
	}
	err := s.st.CreateGroup(ctx, logstore.Group{Name: in.LogGroupName, Class: class, Tags: in.Tags})
	if err != nil {
		return nil, storeErr(err)
	}
	return &Empty{}, nil
}

// DeleteLogGroup deletes a log group with all its streams and events.
func (s *Service) DeleteLogGroup(ctx context.Context, in *logs.DeleteLogGroupRequest) (*Empty, error) {
	if err := validGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := s.st.DeleteGroup(ctx, in.LogGroupName); err != nil {
		return nil, storeErr(err)
	}
	return &Empty{}, nil
}

// DescribeLogGroups lists log groups by name, filtered by a name prefix, a
// name substring (logGroupNamePattern), a list of names or ARNs, or a class.
func (s *Service) DescribeLogGroups(ctx context.Context, in *logs.DescribeLogGroupsRequest) (*logs.DescribeLogGroupsResponse, error) {
	n, err := limit("limit", in.Limit, describeLimit)
	if err != nil {
		return nil, err
	}
	if in.LogGroupNamePrefix != "" && in.LogGroupNamePattern != "" {
		return nil, errInvalidParameter("logGroupNamePrefix: LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive parameters.")
	}
	if in.LogGroupNamePrefix != "" {
		if err := validGroupName("logGroupNamePrefix", in.LogGroupNamePrefix); err != nil {
			return nil, err
		}
	}
	if len(in.LogGroupNamePattern) > maxNameLen || !groupNamePatternRE.MatchString(in.LogGroupNamePattern) {
		return nil, errInvalidParameter(`logGroupNamePattern: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]*`)
	}
	if in.LogGroupClass != "" && !logs.ValidLogGroupClass(in.LogGroupClass) {
		return nil, errInvalidParameter("logGroupClass: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]")
	}
	var wanted map[string]bool
	if in.LogGroupIdentifiers != nil {
		if in.LogGroupNamePrefix != "" || in.LogGroupNamePattern != "" {
			return nil, errInvalidParameter("logGroupIdentifiers: cannot be combined with logGroupNamePrefix or logGroupNamePattern")
		}
		if len(in.LogGroupIdentifiers) < 1 || len(in.LogGroupIdentifiers) > describeLimit {
			return nil, errInvalidParameter("logGroupIdentifiers: Member must have length between 1 and %d", describeLimit)
		}
		wanted = map[string]bool{}
		for _, id := range in.LogGroupIdentifiers {
			name, here, err := s.identifierName("logGroupIdentifiers", id)
			if err != nil {
				return nil, err
			}
			if here { // another account's group is not on this server
				wanted[name] = true
			}
		}
	}

	groups, err := s.st.Groups(ctx, in.LogGroupNamePrefix)
	if err != nil {
		return nil, storeErr(err)
	}
	groups = slices.DeleteFunc(groups, func(g logstore.Group) bool {
		switch {
		case wanted != nil && !wanted[g.Name]:
			return true
		case in.LogGroupNamePattern != "" && !strings.Contains(g.Name, in.LogGroupNamePattern):
			return true
		case in.LogGroupClass != "" && groupClass(g) != in.LogGroupClass:
			return true
		}
		return false
	})
	pg, next, err := page(groups, func(g logstore.Group) string { return g.Name }, in.NextToken, n, false)
	if err != nil {
		return nil, err
	}
	out := &logs.DescribeLogGroupsResponse{LogGroups: make([]logs.LogGroup, 0, len(pg)), NextToken: next}
	for _, g := range pg {
		lg := logs.LogGroup{
			Arn:          s.groupARN(g.Name) + ":*",
			CreationTime: g.CreationTime,
			LogGroupName: g.Name,
		}
		// With a name pattern CloudWatch returns only these three members.
		if in.LogGroupNamePattern == "" {
			lg.LogGroupArn = s.groupARN(g.Name)
			lg.LogGroupClass = groupClass(g)
			lg.RetentionInDays = int32(g.RetentionDays)
			lg.StoredBytes = g.StoredBytes
		}
		out.LogGroups = append(out.LogGroups, lg)
	}
	return out, nil
}

func groupClass(g logstore.Group) string {
	if g.Class == "" {
		return logs.LogGroupClassSTANDARD
	}
	return g.Class
}

// PutRetentionPolicy sets how many days a group's events are kept.
func (s *Service) PutRetentionPolicy(ctx context.Context, in *logs.PutRetentionPolicyRequest) (*Empty, error) {
	if err := validGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if !logstore.ValidRetentionDays(int(in.RetentionInDays)) {
		return nil, errInvalidParameter("retentionInDays: %s", retentionConstraint)
	}
	if err := s.st.SetRetention(ctx, in.LogGroupName, int(in.RetentionInDays)); err != nil {
		return nil, storeErr(err)
	}
	return &Empty{}, nil
}

// DeleteRetentionPolicy removes a group's retention policy. CloudWatch then
// keeps its events forever; berth keeps them for the store's default
// retention.
func (s *Service) DeleteRetentionPolicy(ctx context.Context, in *logs.DeleteRetentionPolicyRequest) (*Empty, error) {
	if err := validGroupName("logGroupName", in.LogGroupName); err != nil {
		return nil, err
	}
	if err := s.st.SetRetention(ctx, in.LogGroupName, 0); err != nil {
		return nil, storeErr(err)
	}
	return &Empty{}, nil
}
