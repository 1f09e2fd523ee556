package layers_test

import (
	"fmt"
	"go/token"
	"go/types"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

const module = "github.com/onestack/onestack/"

// rule forbids packages under from to import packages under any of to.
type rule struct {
	from string
	to   []string
	why  string
}

var rules = []rule{
	{"internal/store", []string{"internal/api", "internal/service", "internal/agent", "internal/controller", "internal/cloud", "internal/driver"},
		"the store is the bottom of the control plane: it imports nothing above it"},
	{"internal/service", []string{"internal/api", "internal/cloud", "internal/agent"},
		"a service sits below the APIs and the wiring and does not reach into agents"},
	{"internal/driver", []string{"internal/api", "internal/service", "internal/store", "internal/cloud"},
		"drivers are the bottom layer: they know hosts, not the control plane"},
	{"internal/agent", []string{"internal/api", "internal/service", "internal/store", "internal/controller", "internal/cloud"},
		"an agent reaches the control plane through hostapi only"},
	{"internal/controller", []string{"internal/api", "internal/cloud", "internal/agent"},
		"a controller works on services and the store, below the APIs and the wiring"},
	{"internal/api", []string{"internal/driver", "internal/cloud"},
		"an API calls its service; drivers and wiring are out of its reach"},
}

// under reports whether path (relative to the module) is dir or below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

func TestLayers(t *testing.T) {
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedImports | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedSyntax,
		Dir: "../.."}
	pkgs, err := packages.Load(cfg, "./...")
	if err != nil {
		t.Fatalf("load packages: %v", err)
	}
	var violations []string
	checked := 0
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Errorf("%s: %v", p.PkgPath, e)
		}
		from := strings.TrimPrefix(p.PkgPath, module)
		for _, r := range rules {
			if !under(from, r.from) {
				continue
			}
			checked++
			for imp := range p.Imports {
				to := strings.TrimPrefix(imp, module)
				for _, bad := range r.to {
					if under(to, bad) {
						violations = append(violations, fmt.Sprintf("%s imports %s: %s may not import %s (%s)", from, to, r.from, bad, r.why))
					}
				}
			}
		}
		if under(from, "internal/api") {
			violations = append(violations, storeUses(p, from)...)
		}
	}
	if checked == 0 {
		t.Fatal("no package matched a rule: the module layout changed under this test")
	}
	sort.Strings(violations)
	for _, v := range violations {
		t.Error(v)
	}
}

// storeUses lists what an API package names from the store beyond its row
// types.
func storeUses(p *packages.Package, from string) []string {
	var st *types.Package
	for _, imp := range p.Types.Imports() {
		if imp.Path() == module+"internal/store" {
			st = imp
		}
	}
	if st == nil {
		return nil
	}
	rows := rowTypes(st)
	type use struct {
		what, why string
		first     token.Position
		n         int
	}
	uses := map[types.Object]*use{}
	note := func(obj types.Object, at token.Pos, what, why string) {
		pos := p.Fset.Position(at)
		u := uses[obj]
		if u == nil {
			u = &use{what: what, why: why, first: pos}
			uses[obj] = u
		}
		if pos.Filename < u.first.Filename || pos.Filename == u.first.Filename && pos.Line < u.first.Line {
			u.first = pos
		}
		u.n++
	}
	for id, obj := range p.TypesInfo.Uses {
		if obj.Pkg() != st {
			continue
		}
		switch o := obj.(type) {
		case *types.TypeName:
			if !rows.types[o] {
				note(o, id.Pos(), "store."+o.Name(), whyNotRow(o.Name()))
			}
		case *types.Func:
			sig := o.Type().(*types.Signature)
			if sig.Recv() == nil {
				note(o, id.Pos(), "store."+o.Name(), "a store function; the service layer calls the store")
			} else if n := named(sig.Recv().Type()); n == nil || !rows.types[n.Obj()] {
				note(o, id.Pos(), "("+types.TypeString(sig.Recv().Type(), (*types.Package).Name)+")."+o.Name(),
					"a method of the database or a transaction; only services open transactions")
			}
		case *types.Var:
			if !o.IsField() {
				note(o, id.Pos(), "store."+o.Name(), "a store variable; sort keys, paging and errors belong to the service layer")
			} else if !rows.fields[o] {
				owner := fieldOwner(st, o)
				note(owner, id.Pos(), "store."+owner.Name(), whyNotRow(owner.Name()))
			}
		}
	}
	var out []string
	for _, u := range uses {
		at := fmt.Sprintf("%s:%d", shortFile(u.first.Filename), u.first.Line)
		if u.n > 1 {
			at += fmt.Sprintf(" and %d more", u.n-1)
		}
		out = append(out, fmt.Sprintf("%s imports internal/store and names %s (%s): an API may name only the store's row types; %s", from, u.what, at, u.why))
	}
	return out
}

func whyNotRow(name string) string {
	switch {
	case name == "DB" || name == "Tx" || name == "Options":
		return "the database and its transactions belong to the service layer"
	case strings.Contains(name, "Sort") || name == "Page":
		return "sort and paging vocabulary belongs to the service layer"
	}
	return "a query or filter type: the service layer owns that vocabulary and translates it for the store"
}

func shortFile(f string) string {
	if i := strings.Index(f, "/internal/"); i >= 0 {
		return f[i+1:]
	}
	return f
}

// rows is what counts as the store's row vocabulary.
type rows struct {
	types  map[*types.TypeName]bool
	fields map[*types.Var]bool
}

// rowTypes collects the types a store read returns: the results of the
// exported methods of *store.Tx, and every named store type reachable from
// them through fields, pointers, slices, arrays and maps.
func rowTypes(st *types.Package) rows {
	r := rows{types: map[*types.TypeName]bool{}, fields: map[*types.Var]bool{}}
	tx, _ := st.Scope().Lookup("Tx").(*types.TypeName)
	if tx == nil {
		return r
	}
	var walk func(types.Type)
	walk = func(t types.Type) {
		switch t := t.(type) {
		case *types.Named:
			if t.Obj().Pkg() != st || r.types[t.Obj()] {
				return
			}
			r.types[t.Obj()] = true
			walk(t.Underlying())
		case *types.Alias:
			walk(types.Unalias(t))
		case *types.Pointer:
			walk(t.Elem())
		case *types.Slice:
			walk(t.Elem())
		case *types.Array:
			walk(t.Elem())
		case *types.Map:
			walk(t.Key())
			walk(t.Elem())
		case *types.Struct:
			for f := range t.Fields() {
				r.fields[f] = true
				walk(f.Type())
			}
		}
	}
	ms := types.NewMethodSet(types.NewPointer(tx.Type()))
	for sel := range ms.Methods() {
		if !sel.Obj().Exported() {
			continue
		}
		res := sel.Type().(*types.Signature).Results()
		for v := range res.Variables() {
			walk(v.Type())
		}
	}
	return r
}

// fieldOwner returns the store type that declares field f (f itself when
// none does, which cannot happen for a field of a store type).
func fieldOwner(st *types.Package, f *types.Var) types.Object {
	for _, name := range st.Scope().Names() {
		tn, ok := st.Scope().Lookup(name).(*types.TypeName)
		if !ok {
			continue
		}
		if s, ok := tn.Type().Underlying().(*types.Struct); ok {
			for g := range s.Fields() {
				if g == f {
					return tn
				}
			}
		}
	}
	return f
}

func named(t types.Type) *types.Named {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, _ := types.Unalias(t).(*types.Named)
	return n
}
