package render

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// JSON writes v indented, with a final newline.
func JSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// JSONLine writes v as one line of JSON.
func JSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// PSTable prints the services, a blank line, then the tasks. A section
// with nothing in it is left out (both empty: "No services or tasks.").
func PSTable(w io.Writer, ps PS, st Style) error {
	if len(ps.Services) == 0 && len(ps.Tasks) == 0 {
		_, err := fmt.Fprintln(w, "No services or tasks.")
		return err
	}
	if len(ps.Services) > 0 {
		t := &table{header: []string{"SERVICE", "STATUS", "DESIRED", "RUNNING", "PENDING", "TASK DEFINITION", "ROLLOUT"}, color: map[int]bool{1: true, 6: true}}
		for _, s := range ps.Services {
			t.add(s.Name, s.Status, itoa(s.Desired), itoa(s.Running), itoa(s.Pending), orDash(s.TaskDefinition), orDash(s.Rollout))
		}
		if err := t.write(w, st); err != nil {
			return err
		}
	}
	if len(ps.Tasks) > 0 {
		if len(ps.Services) > 0 {
			fmt.Fprintln(w)
		}
		t := &table{header: []string{"TASK", "GROUP", "TASK DEFINITION", "STATUS", "HEALTH", "INSTANCE", "HOST", "PORTS"}, color: map[int]bool{3: true, 4: true}}
		for _, k := range ps.Tasks {
			status := k.LastStatus
			if k.DesiredStatus != "" && k.DesiredStatus != k.LastStatus && k.LastStatus != "STOPPED" {
				status += "→" + k.DesiredStatus
			}
			t.add(k.ID, k.Group, k.TaskDefinition, status, k.Health, orDash(k.Instance), orDash(k.Host), portsText(k.Ports))
		}
		return t.write(w, st)
	}
	return nil
}

// portsText is "8080→32768/tcp, …" ("-" for none).
func portsText(ps []Port) string {
	if len(ps) == 0 {
		return "-"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		parts[i] = fmt.Sprintf("%d→%d/%s", p.ContainerPort, p.HostPort, proto)
	}
	return strings.Join(parts, ",")
}

// InstancesTable prints one row per instance: its zone and runtime come
// from the ecs.availability-zone and berth.runtime attributes.
func InstancesTable(w io.Writer, is Instances, st Style) error {
	if len(is.Instances) == 0 {
		_, err := fmt.Fprintln(w, "No container instances.")
		return err
	}
	t := &table{header: []string{"INSTANCE", "STATUS", "AGENT", "HOST", "TASKS", "CPU FREE/TOTAL", "MEMORY FREE/TOTAL", "ZONE", "RUNTIME"}, color: map[int]bool{1: true, 2: true}}
	for _, i := range is.Instances {
		agent := "connected"
		if !i.AgentConnected {
			agent = "disconnected"
		}
		tasks := itoa(i.RunningTasks)
		if i.PendingTasks > 0 {
			tasks += fmt.Sprintf(" (+%d pending)", i.PendingTasks)
		}
		t.add(i.ID, i.Status, agent, orDash(i.Host), tasks,
			fmt.Sprintf("%d/%d", i.CPU.Remaining, i.CPU.Registered),
			fmt.Sprintf("%d/%d MiB", i.Memory.Remaining, i.Memory.Registered),
			orDash(i.Attributes["ecs.availability-zone"]), orDash(i.Attributes["berth.runtime"]))
	}
	return t.write(w, st)
}

// EventLine is how an event prints in a terminal: local time, message.
func EventLine(e Event, loc *time.Location, st Style) string {
	at, err := time.Parse(time.RFC3339Nano, e.CreatedAt)
	stamp := e.CreatedAt
	if err == nil {
		stamp = at.In(loc).Format("2006-01-02 15:04:05")
	}
	return st.Dim(stamp) + "  " + e.Message
}
