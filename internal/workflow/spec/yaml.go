package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxNodes bounds the values a document may expand to (aliases make a
// short document expand into a huge one).
const maxNodes = 200000

// MaxDefinitionBytes bounds the size of a definition.
const MaxDefinitionBytes = 1 << 20

// parseDoc reads text into its root mapping node.
func parseDoc(text string) (*yaml.Node, error) {
	if len(text) > MaxDefinitionBytes {
		return nil, &Error{Msg: fmt.Sprintf("the definition is %d bytes, more than the limit of %d; split it into several", len(text), MaxDefinitionBytes)}
	}
	if strings.TrimSpace(text) == "" {
		return nil, &Error{Msg: "the definition is empty; send a YAML document starting with version: '2.0'"}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return nil, yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &Error{Msg: "the definition is empty; send a YAML document starting with version: '2.0'"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{Line: root.Line, Msg: fmt.Sprintf("the definition must be a YAML mapping (version, then workflows by name), not %s", kindName(root))}
	}
	return root, nil
}

// yamlError turns the YAML library's error ("yaml: line 3: could not find
// expected ':'") into an *Error with the line.
func yamlError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := strings.TrimPrefix(msg, "line ")
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
				// The YAML library reports its parser's errors (not its
				// scanner's) with 0-based lines.
				if strings.HasPrefix(msg, "did not find expected") || strings.HasPrefix(msg, "found duplicate") ||
					strings.HasPrefix(msg, "found incompatible") || strings.HasPrefix(msg, "found undefined tag") {
					line++
				}
			}
		}
	}
	return &Error{Line: line, Msg: "invalid YAML: " + msg}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the value %q", clip(n.Value, 40))
	case yaml.AliasNode:
		return "an alias"
	}
	return "an empty document"
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// pair is one key of a mapping with its value node.
type pair struct {
	key string
	k   *yaml.Node
	v   *yaml.Node
}

// pairs lists a mapping's keys in order, applying merge keys (<<) and
// refusing duplicate keys.
func pairs(n *yaml.Node) ([]pair, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	var out []pair
	seen := map[string]int{}
	var merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, &Error{Line: k.Line, Msg: "a mapping key must be a plain value, not " + kindName(k)}
		}
		if k.Tag == "!!merge" {
			src := deref(v)
			var srcs []*yaml.Node
			switch src.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{src}
			case yaml.SequenceNode:
				srcs = src.Content
			default:
				return nil, &Error{Line: k.Line, Msg: "a merge key (<<) needs a mapping or a list of mappings"}
			}
			for _, s := range srcs {
				ps, err := pairs(s)
				if err != nil {
					return nil, err
				}
				merged = append(merged, ps...)
			}
			continue
		}
		if line, dup := seen[k.Value]; dup {
			return nil, &Error{Line: k.Line, Msg: fmt.Sprintf("key %q is defined twice (also on line %d); keep one", k.Value, line)}
		}
		seen[k.Value] = k.Line
		out = append(out, pair{key: k.Value, k: k, v: v})
	}
	for _, p := range merged {
		if _, ok := seen[p.key]; !ok {
			seen[p.key] = p.k.Line
			out = append(out, p)
		}
	}
	return out, nil
}

// value converts a node into a value tree: nil, bool, int64, float64,
// string, []any, map[string]any. Scalars are read as PyYAML (YAML 1.1)
// reads them where it matters to workflows: yes/no/on/off are booleans.
func value(n *yaml.Node, budget *int) (any, error) {
	return valueB(n, budget, 0)
}

func valueB(n *yaml.Node, budget *int, depth int) (any, error) {
	*budget--
	if *budget < 0 {
		return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("the document expands to more than %d values (through aliases?); make it smaller", maxNodes)}
	}
	if depth > 100 {
		return nil, &Error{Line: n.Line, Msg: "values are nested more than 100 levels deep"}
	}
	n = deref(n)
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := valueB(c, budget, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		ps, err := pairs(n)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(ps))
		for _, p := range ps {
			v, err := valueB(p.v, budget, depth+1)
			if err != nil {
				return nil, err
			}
			out[p.key] = v
		}
		return out, nil
	}
	return nil, nil
}

func scalar(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return n.Value, nil
		}
		return b, nil
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, nil
		}
		return n.Value, nil
	case "!!float":
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil {
			switch strings.ToLower(n.Value) {
			case ".inf", "+.inf", "-.inf", ".nan":
				return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("%s is not a number JSON can carry; quote it to keep it as text", n.Value)}
			}
			return n.Value, nil
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, &Error{Line: n.Line, Msg: fmt.Sprintf("%s is not a number JSON can carry; quote it to keep it as text", n.Value)}
		}
		return f, nil
	case "!!str", "!!timestamp", "!!binary", "":
		if n.Style == 0 && n.Tag == "!!str" {
			switch n.Value {
			case "yes", "Yes", "YES", "on", "On", "ON":
				return true, nil
			case "no", "No", "NO", "off", "Off", "OFF":
				return false, nil
			}
		}
		return n.Value, nil
	}
	return n.Value, nil
}

// str reads a scalar string (numbers are read as their text, as Python's
// str() of a YAML number would be where names are expected).
func str(n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", false
	}
	return n.Value, true
}
