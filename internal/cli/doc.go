// Package cli is the everyday operator CLI of berth (berth ps, deploy,
// run, logs, events, scale, rollback, drain, instances). It talks to a
// berth server only through its public APIs — ECS and CloudWatch Logs, with
// the AWS SDK for Go — exactly as any other client would, so it works
// against any endpoint that speaks them.
//
// cmd/berth binds flags and calls the commands here; the decisions that
// need no network live in pure subpackages (spec: the files deploy and run
// read; rollout: following a deployment; render: tables and the -o json
// shapes).
package cli
