package lb

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"/api/*", "/api/users", true},
		{"/api/*", "/apix", false},
		{"/img/*.png", "/img/a/b.png", true},
		{"/img/*.png", "/img/a.jpg", false},
		{"/v?/x", "/v1/x", true},
		{"/v?/x", "/v10/x", false},
		{"*.example.com", "api.example.com", true},
		{"*.example.com", "example.com", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"exact", "exact", true},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestRoutesMatch(t *testing.T) {
	groups := map[string]*group{"api": newGroup("api", wallClock{}, discard), "web": newGroup("web", wallClock{}, discard), "admin": newGroup("admin", wallClock{}, discard), "def": newGroup("def", wallClock{}, discard)}
	l := Listener{
		Rules: []Rule{
			{Priority: 20, Paths: []string{"/api/*"}, Action: Action{Forward: []WeightedTargetGroup{{TargetGroup: "api"}}}},
			{Priority: 10, Hosts: []string{"admin.*"}, Action: Action{Forward: []WeightedTargetGroup{{TargetGroup: "admin"}}}},
			{Priority: 30, Hosts: []string{"*.Example.com"}, Paths: []string{"/", "/static/*"}, Action: Action{Forward: []WeightedTargetGroup{{TargetGroup: "web"}}}},
			{Priority: 40, Paths: []string{"/teapot"}, Action: Action{Fixed: &FixedResponse{StatusCode: 418}}},
		},
		DefaultAction: Action{Forward: []WeightedTargetGroup{{TargetGroup: "def"}}},
	}
	rt := compileRoutes(l, groups)
	tests := []struct {
		name, host, path, want string
	}{
		{"path rule", "x.test", "/api/v1", "api"},
		{"priority beats later rule", "admin.example.com", "/api/v1", "admin"},
		{"host case-insensitive with port", "WWW.EXAMPLE.COM:8080", "/static/a.css", "web"},
		{"host matches but path does not", "www.example.com", "/other", "def"},
		{"fixed response", "x", "/teapot", "fixed:418"},
		{"default", "nothing.test", "/", "def"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := rt.match(tt.host, tt.path)
			got := ""
			if a.fixed != nil {
				got = "fixed:" + strconv.Itoa(a.fixed.StatusCode)
			} else if g := a.pick(); g != nil {
				got = g.name
			}
			if got != tt.want {
				t.Errorf("match(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
			}
		})
	}
}

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		in      string
		ok, bad []int
		wantErr bool
	}{
		{in: "200", ok: []int{200}, bad: []int{201, 404}},
		{in: "200-399", ok: []int{200, 302, 399}, bad: []int{400, 199}},
		{in: "200,204", ok: []int{200, 204}, bad: []int{201}},
		{in: "200-204, 301", ok: []int{203, 301}, bad: []int{302}},
		{in: "abc", wantErr: true},
		{in: "399-200", wantErr: true},
	}
	for _, tt := range tests {
		m, err := parseMatcher(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("parseMatcher(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
		for _, c := range tt.ok {
			if !m.match(c) {
				t.Errorf("%q does not match %d, want match", tt.in, c)
			}
		}
		for _, c := range tt.bad {
			if m.match(c) {
				t.Errorf("%q matches %d, want no match", tt.in, c)
			}
		}
	}
}

func TestValidateNamesField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"unknown group", Config{Listeners: []Listener{forward(80, "nope")}}, "Listeners[0].DefaultAction.Forward[0].TargetGroup"},
		{"bad port", Config{Listeners: []Listener{{Port: 0}}}, "Listeners[0].Port"},
		{"bad target", Config{TargetGroups: []TargetGroup{{Name: "a", Targets: []string{"host"}}}}, "TargetGroups[0].Targets[0]"},
		{"bad matcher", Config{TargetGroups: []TargetGroup{{Name: "a", HealthCheck: HealthCheck{Matcher: "x"}}}}, "TargetGroups[0].HealthCheck.Matcher"},
		{"dup priority", Config{Listeners: []Listener{{Port: 80, Rules: []Rule{{Priority: 1}, {Priority: 1}}}}}, "Listeners[0].Rules[1].Priority"},
		{"timeout over interval", Config{TargetGroups: []TargetGroup{{Name: "a", HealthCheck: HealthCheck{Interval: 1e9, Timeout: 2e9}}}}, "TargetGroups[0].HealthCheck.Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate() = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
		})
	}
	if err := (Config{Listeners: []Listener{forward(80, "a")}, TargetGroups: []TargetGroup{{Name: "a", Targets: []string{"127.0.0.1:1"}}}}).Validate(); err != nil {
		t.Errorf("Validate(good) = %v, want nil", err)
	}
}
