package infra

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Bicep syntax check (make bicep-check) runs infra/bicepcheck/parse.cjs,
// the tree-sitter Bicep grammar under web-tree-sitter, installed by `make
// bicep-tools` into .tools/bicep. These tests run it on every Bicep file and
// on a deliberately broken copy. Without the tools they skip, except in CI
// (CI=true), where `make test` installs them first.

func bicepParser(t *testing.T) func(files ...string) (string, error) {
	t.Helper()
	modules, err := filepath.Abs("../.tools/bicep/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	node, lookErr := exec.LookPath("node")
	if _, statErr := os.Stat(filepath.Join(modules, "web-tree-sitter")); lookErr != nil || statErr != nil {
		msg := "the Bicep parser is not installed (run: make bicep-tools)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return func(files ...string) (string, error) {
		cmd := exec.Command(node, append([]string{"bicepcheck/parse.cjs"}, files...)...)
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

func bicepFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("*.bicep")
	mods, _ := filepath.Glob("modules/*.bicep")
	files = append(files, mods...)
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	return files
}

func TestEveryBicepFileParses(t *testing.T) {
	parse := bicepParser(t)
	files := bicepFiles(t)
	out, err := parse(files...)
	if err != nil {
		t.Fatalf("Bicep syntax errors: %v\n%s", err, out)
	}
	for _, f := range files {
		if !strings.Contains(out, f+": ok") {
			t.Errorf("%s not reported ok:\n%s", f, out)
		}
	}
}

func TestBicepParserRejectsBrokenCopy(t *testing.T) {
	parse := bicepParser(t)
	src, err := os.ReadFile("modules/zone-role-assignment.bicep")
	if err != nil {
		t.Fatal(err)
	}
	// Mistakes a person makes while editing: an unclosed object, a missing
	// value, a stray keyword.
	breaks := map[string]func(string) string{
		"unclosed object": func(s string) string { return strings.Replace(s, "  name: zoneName\n}", "  name: zoneName\n", 1) },
		"missing value": func(s string) string {
			return strings.Replace(s, "principalType: 'ServicePrincipal'", "principalType:", 1)
		},
		"stray token": func(s string) string {
			return strings.Replace(s, "param zoneName string", "param zoneName string string", 1)
		},
	}
	dir := t.TempDir()
	for name, brk := range breaks {
		t.Run(name, func(t *testing.T) {
			broken := brk(string(src))
			if broken == string(src) {
				t.Fatal("the break did not apply: the module changed; update this test")
			}
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".bicep")
			if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := parse("modules/identity.bicep", path)
			if err == nil {
				t.Fatalf("the parser accepted a broken copy:\n%s", out)
			}
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want 1 (syntax error):\n%s", err, out)
			}
			if !strings.Contains(out, path+":") || !strings.Contains(out, "syntax error") {
				t.Errorf("the error does not name the file and line:\n%s", out)
			}
			if !strings.Contains(out, "modules/identity.bicep: ok") {
				t.Errorf("the good file is not reported ok next to the broken one:\n%s", out)
			}
		})
	}
}
