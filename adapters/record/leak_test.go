package record_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"mig/internal/testenv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// textConstructors are the only ways text enters a Record.
var textConstructors = map[string]bool{
	"NewTerm": true, "NewHumanName": true, "NewAddress": true, "NewDosageText": true,
}

// TestTextConstructedOnlyByAdapters walks every Go file of the module and
// fails when a package outside adapters/ calls one of record's text
// constructors: the mapper, the REST layer and everything else can read a
// record's text but never make it, so no free text can be slipped in
// downstream of the adapters.
func TestTextConstructedOnlyByAdapters(t *testing.T) {
	root := testenv.ModuleRoot(t)
	var offenders []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "var" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		// Test fixtures may build records with text; production code
		// outside adapters/ may not.
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "adapters/") {
			return nil
		}
		for _, call := range constructorCalls(t, path) {
			offenders = append(offenders, rel+": "+call)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(offenders) > 0 {
		t.Fatalf("record text constructed outside adapters/:\n%s", strings.Join(offenders, "\n"))
	}
}

// TestLeakCheckSeesCalls proves the checker finds a call when there is one.
func TestLeakCheckSeesCalls(t *testing.T) {
	dir := t.TempDir()
	src := "package x\nimport r \"mig/adapters/record\"\nvar _ = r.NewTerm(\"free text\")\n"
	p := filepath.Join(dir, "x.go")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := constructorCalls(t, p); len(got) != 1 {
		t.Fatalf("checker found %v, want one call", got)
	}
}

func constructorCalls(t *testing.T, path string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	names := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p != "mig/adapters/record" {
			continue
		}
		name := "record"
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = true
	}
	var calls []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		if ok && names[id.Name] && textConstructors[sel.Sel.Name] {
			calls = append(calls, fset.Position(sel.Pos()).String()+" "+sel.Sel.Name)
		}
		return true
	})
	return calls
}
