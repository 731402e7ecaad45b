package infra

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The Bicep compiler cannot be installed here, so this test reads the Bicep
// files as text, far enough to catch the mistakes that break a deployment
// late: a module given a parameter it does not declare, a required
// parameter not given, an output used but not declared, a loaded file that
// does not exist.

type bicepFile struct {
	path     string
	text     string
	params   map[string]bool // name -> has default
	outputs  map[string]bool
	modules  map[string]moduleRef // symbolic name -> reference
	loadRefs []string
}

type moduleRef struct {
	file   string
	params []string
}

var (
	paramRe    = regexp.MustCompile(`(?m)^param\s+(\w+)\s+[^\n=]+?(=.*)?$`)
	outputRe   = regexp.MustCompile(`(?m)^output\s+(\w+)\s`)
	moduleRe   = regexp.MustCompile(`(?m)^module\s+(\w+)\s+'([^']+)'\s*=`)
	loadRe     = regexp.MustCompile(`load(?:Json|Text)Content\('([^']+)'\)`)
	useOutRe   = regexp.MustCompile(`\b(\w+)!?\.outputs\.(\w+)`)
	paramKeyRe = regexp.MustCompile(`(?m)^\s{4}(\w+):`)
)

func readBicep(t *testing.T, path string) bicepFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := bicepFile{path: path, text: string(data), params: map[string]bool{}, outputs: map[string]bool{}, modules: map[string]moduleRef{}}
	for _, m := range paramRe.FindAllStringSubmatch(f.text, -1) {
		f.params[m[1]] = m[2] != ""
	}
	for _, m := range outputRe.FindAllStringSubmatch(f.text, -1) {
		f.outputs[m[1]] = true
	}
	for _, m := range loadRe.FindAllStringSubmatch(f.text, -1) {
		f.loadRefs = append(f.loadRefs, m[1])
	}
	for _, loc := range moduleRe.FindAllStringSubmatchIndex(f.text, -1) {
		name := f.text[loc[2]:loc[3]]
		file := f.text[loc[4]:loc[5]]
		body := block(f.text[loc[1]:], "params:")
		var params []string
		for _, p := range paramKeyRe.FindAllStringSubmatch(body, -1) {
			params = append(params, p[1])
		}
		f.modules[name] = moduleRef{file: file, params: params}
	}
	return f
}

// block returns the text of the first {...} following key in s (brace
// matched), or "" when key is absent.
func block(s, key string) string {
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i:]
	start := strings.Index(s, "{")
	depth := 0
	for j := start; j < len(s); j++ {
		switch s[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return s[start+1 : j]
			}
		}
	}
	return s[start+1:]
}

func TestBicepModulesAreWiredConsistently(t *testing.T) {
	files, err := filepath.Glob("*.bicep")
	if err != nil {
		t.Fatal(err)
	}
	mods, _ := filepath.Glob("modules/*.bicep")
	files = append(files, mods...)
	if len(files) < 5 {
		t.Fatalf("expected main.bicep and modules, found %v", files)
	}
	parsed := map[string]bicepFile{}
	for _, p := range files {
		parsed[filepath.Clean(p)] = readBicep(t, p)
	}
	for _, f := range parsed {
		dir := filepath.Dir(f.path)
		for _, ref := range f.loadRefs {
			if _, err := os.Stat(filepath.Join(dir, ref)); err != nil {
				t.Errorf("%s loads %s, which does not exist", f.path, ref)
			}
		}
		for name, m := range f.modules {
			target, ok := parsed[filepath.Clean(filepath.Join(dir, m.file))]
			if !ok {
				t.Errorf("%s: module %s references %s, which does not exist", f.path, name, m.file)
				continue
			}
			given := map[string]bool{}
			for _, p := range m.params {
				given[p] = true
				if _, declared := target.params[p]; !declared {
					t.Errorf("%s: module %s passes parameter %q, which %s does not declare", f.path, name, p, target.path)
				}
			}
			for p, hasDefault := range target.params {
				if !hasDefault && !given[p] {
					t.Errorf("%s: module %s does not pass required parameter %q of %s", f.path, name, p, target.path)
				}
			}
		}
		for _, u := range useOutRe.FindAllStringSubmatch(f.text, -1) {
			m, ok := f.modules[u[1]]
			if !ok {
				continue // a resource's outputs, not a module's
			}
			target := parsed[filepath.Clean(filepath.Join(dir, m.file))]
			if !target.outputs[u[2]] {
				t.Errorf("%s uses %s.outputs.%s, which %s does not declare", f.path, u[1], u[2], target.path)
			}
		}
	}
}

func TestMainParametersCoverRequiredParameters(t *testing.T) {
	main := readBicep(t, "main.bicep")
	data, err := os.ReadFile("main.parameters.json")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for p, hasDefault := range main.params {
		if !hasDefault && !strings.Contains(string(data), `"`+p+`"`) {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("main.parameters.json (used by azd) lacks required parameters %v of main.bicep", missing)
	}
}

var actionsRe = regexp.MustCompile(`(?m)^\s*actions:`)

func contains(s, sub string) bool { return strings.Contains(s, sub) }
