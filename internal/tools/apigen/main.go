// Command apigen generates Go wire types from an AWS API model (botocore's
// service-2.json), so that every member name, type and enum value berth
// speaks is the one the AWS SDKs and CLI expect.
//
// It is run by `go generate ./api/...`; the output is committed, so building
// berth never needs the model. A test in each api package checks the
// committed types against the model when botocore is on the machine.
//
// Mapping rules (the same ones aws-sdk-go-v2 uses):
//
//	structure            -> struct; members keep the model's JSON names
//	string, enum string  -> string (enums get typed constants and a Valid func)
//	boxed int/bool/double-> pointer with omitzero (absent is distinct from zero)
//	plain int/bool/double-> value, always emitted (as ECS always returns them)
//	timestamp            -> *Time (epoch seconds on the wire)
//	list / map           -> slice / map with omitzero (an empty, non-nil one is emitted)
//
// For a model whose protocol is "query" (ELBv2), the same shapes become
// structs whose fields carry the Query wire names instead of JSON ones,
// read by internal/awsquery:
//
//	query:"Name[,flat][,member=M][,key=K][,value=V]"
//	    the form key (Name, Name.M.N for a list, Name.entry.N.K/V for a
//	    map; flat drops the .M / .entry level, and a flattened list whose
//	    member has a locationName is named by it) and, with the same rules,
//	    the XML element names in responses
//	xml:"Name" / xml:"Name>member"
//	    the same layout for encoding/xml (maps excepted: xml:"-")
//	every number and boolean is a pointer (Query members are all optional)
//	timestamp -> *Time (ISO 8601 in XML)
//	error codes are the model's error.code (<Code> in an ErrorResponse)
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

type ref struct {
	Shape         string `json:"shape"`
	Documentation string `json:"documentation"`
	LocationName  string `json:"locationName"`
	Flattened     bool   `json:"flattened"`
	ResultWrapper string `json:"resultWrapper"`
}

type shape struct {
	Type      string         `json:"type"`
	Members   map[string]ref `json:"members"`
	Required  []string       `json:"required"`
	Member    *ref           `json:"member"`
	Key       *ref           `json:"key"`
	Value     *ref           `json:"value"`
	Enum      []string       `json:"enum"`
	Box       bool           `json:"box"`
	Exception bool           `json:"exception"`
	Flattened bool           `json:"flattened"`
	Error     *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
	} `json:"error"`
	Documentation string   `json:"documentation"`
	Min           *float64 `json:"min"`
	Max           *float64 `json:"max"`
}

type operation struct {
	Name   string `json:"name"`
	Input  *ref   `json:"input"`
	Output *ref   `json:"output"`
	Errors []ref  `json:"errors"`
}

type model struct {
	Metadata   map[string]any       `json:"metadata"`
	Operations map[string]operation `json:"operations"`
	Shapes     map[string]shape     `json:"shapes"`
}

func main() {
	modelRel := flag.String("model", "", "model directory relative to botocore/data, e.g. ecs/2014-11-13")
	pkg := flag.String("pkg", "", "Go package name")
	out := flag.String("out", "types_gen.go", "output file")
	flag.Parse()
	if err := run(*modelRel, *pkg, *out); err != nil {
		fmt.Fprintln(os.Stderr, "apigen:", err)
		os.Exit(1)
	}
}

// BotocoreDataDir finds botocore's data directory through python3.
func botocoreDataDir() (string, error) {
	if d := os.Getenv("BOTOCORE_DATA"); d != "" {
		return d, nil
	}
	out, err := exec.Command("python3", "-c", "import botocore,os;print(os.path.dirname(botocore.__file__))").Output()
	if err != nil {
		return "", fmt.Errorf("find botocore (set BOTOCORE_DATA): %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data"), nil
}

func loadModel(rel string) (*model, error) {
	dir, err := botocoreDataDir()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, rel, "service-2.json")
	var r io.Reader
	if f, err := os.Open(base); err == nil {
		defer f.Close()
		r = f
	} else {
		f, err := os.Open(base + ".gz")
		if err != nil {
			return nil, fmt.Errorf("open model: %w", err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("open model: %w", err)
		}
		r = zr
	}
	var m model
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	return &m, nil
}

func run(rel, pkg, out string) error {
	if rel == "" || pkg == "" {
		return fmt.Errorf("-model and -pkg are required")
	}
	m, err := loadModel(rel)
	if err != nil {
		return err
	}
	g := &gen{m: m, query: m.Metadata["protocol"] == "query"}
	src, err := g.generate(rel, pkg)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

type gen struct {
	m     *model
	buf   bytes.Buffer
	query bool // the model uses the AWS Query protocol
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(&g.buf, format, args...) }

var tagRE = regexp.MustCompile(`<[^>]*>`)
var spaceRE = regexp.MustCompile(`\s+`)

// firstSentence turns model HTML documentation into one short comment line.
func firstSentence(doc string) string {
	s := tagRE.ReplaceAllString(doc, "")
	s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&#39;", "'").Replace(s)
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

func exported(name string) string {
	r := []rune(name)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// enumConst makes a Go identifier from an enum value such as "ecs.capability" or "FARGATE_SPOT".
func enumConst(typ, val string) string {
	var b strings.Builder
	b.WriteString(typ)
	up := true
	for _, r := range val {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			b.WriteRune(unicode.ToUpper(r))
			up = false
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (g *gen) goType(r ref) string {
	s := g.m.Shapes[r.Shape]
	switch s.Type {
	case "structure":
		return "*" + r.Shape
	case "list":
		return "[]" + strings.TrimPrefix(g.elemType(*s.Member), "")
	case "map":
		return "map[string]" + g.elemType(*s.Value)
	case "string":
		return "string"
	case "integer":
		if s.Box || g.query {
			return "*int32"
		}
		return "int32"
	case "long":
		if s.Box || g.query {
			return "*int64"
		}
		return "int64"
	case "boolean":
		if s.Box || g.query {
			return "*bool"
		}
		return "bool"
	case "double", "float":
		if s.Box || g.query {
			return "*float64"
		}
		return "float64"
	case "timestamp":
		return "*Time"
	case "blob":
		return "[]byte"
	}
	panic("unknown shape type " + s.Type + " for " + r.Shape)
}

// elemType is the type of a list element or map value: structures by value.
func (g *gen) elemType(r ref) string {
	s := g.m.Shapes[r.Shape]
	switch s.Type {
	case "structure":
		return r.Shape
	case "integer":
		return "int32"
	case "long":
		return "int64"
	case "boolean":
		return "bool"
	case "double", "float":
		return "float64"
	case "timestamp":
		return "Time"
	}
	return g.goType(r)
}

func (g *gen) tag(name string, r ref) string {
	s := g.m.Shapes[r.Shape]
	if g.query {
		return g.queryTag(name, r)
	}
	switch s.Type {
	case "integer", "long", "boolean", "double", "float":
		if !s.Box {
			return fmt.Sprintf("`json:%q`", name)
		}
	}
	return fmt.Sprintf("`json:%q`", name+",omitzero")
}

func (g *gen) generate(rel, pkg string) ([]byte, error) {
	g.p("// Code generated by internal/tools/apigen from botocore's %s model; DO NOT EDIT.\n\n", rel)
	g.p("package %s\n\n", pkg)
	g.p("import (\n\t\"time\"\n\n\t\"github.com/berth-io/berth/api/awstime\"\n)\n\n")
	if g.query {
		g.p("// Time is a timestamp on this API's wire (ISO 8601 in XML and forms).\ntype Time = awstime.Time\n\n")
	} else {
		g.p("// Time is a timestamp on this API's wire (epoch seconds).\ntype Time = awstime.Time\n\n")
	}
	g.p("// NewTime returns t as a *Time, for filling optional timestamp members.\nfunc NewTime(t time.Time) *Time { return &Time{Time: t} }\n\n")

	md := g.m.Metadata
	g.p("// API identity, from the model's metadata.\nconst (\n")
	g.p("\tAPIVersion = %q\n", md["apiVersion"])
	if tp, ok := md["targetPrefix"].(string); ok {
		g.p("\tTargetPrefix = %q\n", tp)
	}
	if ns, ok := md["xmlNamespace"].(string); ok && g.query {
		g.p("\tXMLNamespace = %q\n", ns)
	}
	g.p("\tSigningName = %q\n", firstNonEmpty(md["signingName"], md["endpointPrefix"]))
	g.p(")\n\n")

	// Operations.
	ops := make([]string, 0, len(g.m.Operations))
	for name := range g.m.Operations {
		ops = append(ops, name)
	}
	sort.Strings(ops)
	g.p("// Operations lists every operation in the model, sorted.\nfunc Operations() []string {\n\treturn []string{\n")
	for _, o := range ops {
		g.p("\t\t%q,\n", o)
	}
	g.p("\t}\n}\n\n")

	// Exceptions.
	names := make([]string, 0, len(g.m.Shapes))
	for name := range g.m.Shapes {
		names = append(names, name)
	}
	sort.Strings(names)
	if g.query {
		g.p("// Error codes the model declares, as they appear in <Code>.\nconst (\n")
	} else {
		g.p("// Error codes the model declares, as they appear in __type.\nconst (\n")
	}
	for _, n := range names {
		s := g.m.Shapes[n]
		if !s.Exception {
			continue
		}
		code := n
		if g.query && s.Error != nil && s.Error.Code != "" {
			code = s.Error.Code
		}
		g.p("\tErr%s = %q\n", strings.TrimSuffix(n, "Exception"), code)
	}
	g.p(")\n\n")
	if g.query {
		g.errorStatus(names)
	}

	for _, n := range names {
		s := g.m.Shapes[n]
		switch s.Type {
		case "structure":
			g.structure(n, s)
		case "string":
			if len(s.Enum) > 0 {
				g.enum(n, s)
			}
		}
	}
	src, err := format.Source(g.buf.Bytes())
	if err != nil {
		return g.buf.Bytes(), fmt.Errorf("gofmt generated code: %w", err)
	}
	return src, nil
}

func firstNonEmpty(vs ...any) string {
	for _, v := range vs {
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func (g *gen) structure(n string, s shape) {
	if doc := firstSentence(s.Documentation); doc != "" {
		g.p("// %s: %s\n", n, doc)
	} else {
		g.p("// %s is the model's %s shape.\n", n, n)
	}
	g.p("type %s struct {\n", n)
	members := make([]string, 0, len(s.Members))
	for m := range s.Members {
		members = append(members, m)
	}
	sort.Strings(members)
	for _, m := range members {
		r := s.Members[m]
		if doc := firstSentence(r.Documentation); doc != "" {
			g.p("\t// %s\n", doc)
		}
		g.p("\t%s %s %s\n", exported(m), g.goType(r), g.tag(m, r))
	}
	g.p("}\n\n")
	if len(s.Required) > 0 {
		req := append([]string(nil), s.Required...)
		sort.Strings(req)
		g.p("// RequiredMembers names the members of %s the model marks required.\n", n)
		g.p("func (%s) RequiredMembers() []string { return []string{", n)
		for i, r := range req {
			if i > 0 {
				g.p(", ")
			}
			g.p("%q", r)
		}
		g.p("} }\n\n")
	}
}

func (g *gen) enum(n string, s shape) {
	g.p("// %s values.\nconst (\n", n)
	seen := map[string]bool{}
	for _, v := range s.Enum {
		c := enumConst(n, v)
		if seen[c] {
			continue
		}
		seen[c] = true
		g.p("\t%s = %q\n", c, v)
	}
	g.p(")\n\n")
	g.p("// Valid%s reports whether v is one of the model's %s values.\n", n, n)
	g.p("func Valid%s(v string) bool {\n\tswitch v {\n\tcase ", n)
	for i, v := range s.Enum {
		if i > 0 {
			g.p(", ")
		}
		g.p("%q", v)
	}
	g.p(":\n\t\treturn true\n\t}\n\treturn false\n}\n\n")
}

// queryTag returns the struct tags of a member of a Query-protocol model.
func (g *gen) queryTag(name string, r ref) string {
	s := g.m.Shapes[r.Shape]
	wire := name
	if r.LocationName != "" {
		wire = r.LocationName
	}
	opts := []string{wire}
	xmlName := wire
	flat := s.Flattened || r.Flattened
	switch s.Type {
	case "list":
		member := "member"
		if s.Member != nil && s.Member.LocationName != "" {
			member = s.Member.LocationName
		}
		switch {
		case flat && member != "member":
			// A flattened list's elements take the member's name.
			opts[0], xmlName = member, member
			opts = append(opts, "flat")
		case flat:
			opts = append(opts, "flat")
		default:
			xmlName = wire + ">" + member
			if member != "member" {
				opts = append(opts, "member="+member)
			}
		}
	case "map":
		if flat {
			opts = append(opts, "flat")
		}
		if s.Key != nil && s.Key.LocationName != "" && s.Key.LocationName != "key" {
			opts = append(opts, "key="+s.Key.LocationName)
		}
		if s.Value != nil && s.Value.LocationName != "" && s.Value.LocationName != "value" {
			opts = append(opts, "value="+s.Value.LocationName)
		}
		return fmt.Sprintf("`query:%q xml:\"-\"`", strings.Join(opts, ","))
	}
	return fmt.Sprintf("`query:%q xml:%q`", strings.Join(opts, ","), xmlName+",omitempty")
}

// errorStatus emits the HTTP status of each error code a Query model declares.
func (g *gen) errorStatus(names []string) {
	g.p("// ErrorStatus returns the HTTP status the model gives an error code, or 0.\n")
	g.p("func ErrorStatus(code string) int {\n\tswitch code {\n")
	for _, n := range names {
		s := g.m.Shapes[n]
		if !s.Exception || s.Error == nil || s.Error.HTTPStatusCode == 0 {
			continue
		}
		code := n
		if s.Error.Code != "" {
			code = s.Error.Code
		}
		g.p("\tcase %q:\n\t\treturn %d\n", code, s.Error.HTTPStatusCode)
	}
	g.p("\t}\n\treturn 0\n}\n\n")
}
