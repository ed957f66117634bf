package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// TaskFromMetadata asks the ECS task metadata endpoint (version 4, at
// $ECS_CONTAINER_METADATA_URI_V4) which task runs this container. It
// returns ErrNoMetadata when the variable is unset, as it is on berth's
// agents today; the demo then answers without a task ID.
func TaskFromMetadata(ctx context.Context, getenv func(string) string) (TaskInfo, error) {
	base := getenv("ECS_CONTAINER_METADATA_URI_V4")
	if base == "" {
		return TaskInfo{}, ErrNoMetadata
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/task", nil)
	if err != nil {
		return TaskInfo{}, fmt.Errorf("demo: task metadata: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return TaskInfo{}, fmt.Errorf("demo: task metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return TaskInfo{}, fmt.Errorf("demo: task metadata: GET %s: %s", req.URL, resp.Status)
	}
	var md struct {
		TaskARN  string
		Family   string
		Revision string
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		return TaskInfo{}, fmt.Errorf("demo: task metadata: %w", err)
	}
	return TaskInfo{ID: md.TaskARN[strings.LastIndexByte(md.TaskARN, '/')+1:], Family: md.Family, Revision: md.Revision}, nil
}
