package logstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppend appends 100-line batches (typical container output,
// ~120 bytes a line) to one stream, each batch its own fsync'd
// transaction, and reports lines/s.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "logs.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const lines = 100
	batch := make([]Event, lines)
	for j := range batch {
		batch[j].Message = fmt.Sprintf("2026-11-25T12:00:00.000Z INFO request id=%08d path=/api/v1/items/%d status=200 duration=12.3ms", j, j)
	}
	ts := time.Now().UnixMilli()
	b.ReportAllocs()
	for b.Loop() {
		for j := range batch {
			batch[j].Timestamp = ts
		}
		ts++
		if err := s.Append(bg, "/ecs/web", "web/app/0123456789abcdef", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkAppendBatches appends one agent flush: 100 lines for each of 10
// containers, in one transaction, and reports lines/s.
func BenchmarkAppendBatches(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "logs.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const containers, lines = 10, 100
	batches := make([]Batch, containers)
	for c := range batches {
		batches[c] = Batch{Group: "/ecs/web", Stream: fmt.Sprintf("web/app/%032d", c), Events: make([]Event, lines)}
		for j := range batches[c].Events {
			batches[c].Events[j].Message = fmt.Sprintf("2026-11-25T12:00:00.000Z INFO request id=%08d path=/api/v1/items/%d status=200 duration=12.3ms", j, c)
		}
	}
	ts := time.Now().UnixMilli()
	b.ReportAllocs()
	for b.Loop() {
		for _, bt := range batches {
			for j := range bt.Events {
				bt.Events[j].Timestamp = ts
			}
		}
		ts++
		if err := s.AppendBatches(bg, batches); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*containers*lines)/b.Elapsed().Seconds(), "lines/s")
}
