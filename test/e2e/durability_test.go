package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"
)

// durableWrites records the writes the server acknowledged.
type durableWrites struct {
	clusters  []string
	revisions []int32 // of family "dur", in acknowledgement order
	services  []string
}

// TestDurabilityKill9 checks that every write berth acknowledged survives a
// SIGKILL that lands while a client is still writing: acknowledged means
// fsynced.
func TestDurabilityKill9(t *testing.T) {
	t.Parallel()
	const minAcked = 300 // writes to see before pulling the plug
	srv := startServer(t, serverOptions{})
	ctx := ctxT(t)
	c := srv.ecs
	mustCluster(t, ctx, c, "dur")
	mustTaskDef(t, ctx, c, smallTaskDefinitionInput("dur-svc", 64, 64))

	var (
		acked    atomic.Int64
		writes   durableWrites
		apiErr   error // an API error (not a transport error) while writing
		lastStep string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			var err error
			switch i % 3 {
			case 0:
				name := fmt.Sprintf("dur-c%04d", i)
				lastStep = "CreateCluster " + name
				if _, err = c.CreateCluster(wctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)}); err == nil {
					writes.clusters = append(writes.clusters, name)
				}
			case 1:
				lastStep = "RegisterTaskDefinition dur"
				var out *ecs.RegisterTaskDefinitionOutput
				if out, err = c.RegisterTaskDefinition(wctx, smallTaskDefinitionInput("dur", 64, 64)); err == nil {
					writes.revisions = append(writes.revisions, out.TaskDefinition.Revision)
				}
			case 2:
				name := fmt.Sprintf("s%04d", i)
				lastStep = "CreateService " + name
				if _, err = c.CreateService(wctx, &ecs.CreateServiceInput{
					Cluster: aws.String("dur"), ServiceName: aws.String(name), TaskDefinition: aws.String("dur-svc:1"), DesiredCount: aws.Int32(0),
				}); err == nil {
					writes.services = append(writes.services, name)
				}
			}
			cancel()
			if err != nil {
				var ae smithy.APIError
				if errors.As(err, &ae) {
					apiErr = err
				}
				return // a transport error: the server is gone
			}
			acked.Add(1)
		}
	}()

	deadline := time.Now().Add(30 * time.Second)
	for acked.Load() < minAcked {
		select {
		case <-done:
			t.Fatalf("writer stopped after %d writes, before the kill, at %s: %v", acked.Load(), lastStep, apiErr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes acknowledged in 30s", acked.Load())
		}
	}
	srv.kill9()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("writer still running 30s after the server was killed")
	}
	if apiErr != nil {
		t.Fatalf("writer got an API error (not a dropped connection) at %s: %v", lastStep, apiErr)
	}
	t.Logf("killed the server after %d acknowledged writes (%d clusters, %d revisions, %d services); in flight: %s",
		acked.Load(), len(writes.clusters), len(writes.revisions), len(writes.services), lastStep)

	srv.restart()
	c = srv.ecs

	t.Run("clusters", func(t *testing.T) {
		for batch := range slices.Chunk(writes.clusters, 100) {
			out, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: batch})
			ok(t, err)
			for _, f := range out.Failures {
				t.Errorf("acknowledged cluster lost: %s (%s)", aws.ToString(f.Arn), aws.ToString(f.Reason))
			}
			for _, cl := range out.Clusters {
				if aws.ToString(cl.Status) != "ACTIVE" {
					t.Errorf("cluster %s: status %s, want ACTIVE", aws.ToString(cl.ClusterName), aws.ToString(cl.Status))
				}
			}
		}
	})

	t.Run("task definitions", func(t *testing.T) {
		var got []string
		var token *string
		for {
			out, err := c.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("dur"), NextToken: token})
			ok(t, err)
			got = append(got, out.TaskDefinitionArns...)
			if token = out.NextToken; token == nil {
				break
			}
		}
		maxAcked := int32(0)
		for i, rev := range writes.revisions {
			if rev != int32(i+1) {
				t.Errorf("acknowledged revision #%d was %d, want %d", i+1, rev, i+1)
			}
			maxAcked = max(maxAcked, rev)
		}
		// One registration may have been in flight: committed but not
		// acknowledged. Revisions must still be 1..n without gaps.
		n := int32(len(got))
		if n < maxAcked || n > maxAcked+1 {
			t.Errorf("after restart: %d revisions of dur, want %d (or %d with one in flight)", n, maxAcked, maxAcked+1)
		}
		for i, arn := range got {
			if want := taskDefARN(fmt.Sprintf("dur:%d", i+1)); arn != want {
				t.Errorf("revision list[%d] = %s, want %s", i, arn, want)
				break
			}
		}
		next, err := c.RegisterTaskDefinition(ctx, smallTaskDefinitionInput("dur", 64, 64))
		ok(t, err)
		if got := next.TaskDefinition.Revision; got != n+1 {
			t.Errorf("first registration after restart: revision %d, want %d", got, n+1)
		}
	})

	t.Run("services", func(t *testing.T) {
		for batch := range slices.Chunk(writes.services, 10) {
			out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("dur"), Services: batch})
			ok(t, err)
			for _, f := range out.Failures {
				t.Errorf("acknowledged service lost: %s (%s)", aws.ToString(f.Arn), aws.ToString(f.Reason))
			}
			for _, s := range out.Services {
				if aws.ToString(s.Status) != "ACTIVE" {
					t.Errorf("service %s: status %s, want ACTIVE", aws.ToString(s.ServiceName), aws.ToString(s.Status))
				}
			}
		}
	})

	// The restarted server takes writes and shuts down cleanly (checked by
	// the cleanup's stop).
	mustCluster(t, ctx, c, "after-restart")
}
