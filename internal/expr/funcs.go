package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"sigs.k8s.io/yaml"

	"github.com/onestack/onestack/internal/exprvalue"
)

// maxParseBytes bounds the text json_parse and yaml_parse accept.
const maxParseBytes = 8 << 20

// PureFuncs are Mistral's expression functions that need no engine state
// (mistral/expressions/std_functions.py): env(), json_parse(),
// json_dump(), json_pp() (the name older Mistral releases used for
// json_dump), yaml_parse(), yaml_dump() and uuid(). The engine adds
// task(), tasks(), execution(), executions() and global() beside them.
//
// yaml_parse reads YAML as sigs.k8s.io/yaml does (YAML 1.1 scalars, where
// y and n are booleans too; PyYAML reads only yes/no/on/off/true/false as
// booleans) and refuses anchors and aliases.
func PureFuncs() exprvalue.Funcs {
	return exprvalue.Funcs{
		"env": {Call: func(c exprvalue.Call, _ []any) (any, error) {
			if d, ok := c.Data.(map[string]any); ok {
				return d["__env"], nil
			}
			return nil, nil
		}},
		"uuid": {Call: func(exprvalue.Call, []any) (any, error) { return uuid.NewString(), nil }},
		"json_parse": {Params: []string{"data"}, Required: 1, Call: func(_ exprvalue.Call, args []any) (any, error) {
			s, ok := args[0].(string)
			if !ok {
				return nil, fmt.Errorf("needs a string, not a %s", exprvalue.Kind(args[0]))
			}
			if len(s) > maxParseBytes {
				return nil, fmt.Errorf("the text is longer than %d bytes", maxParseBytes)
			}
			return decodeJSON([]byte(s))
		}},
		"json_dump": {Params: []string{"data"}, Required: 1, Call: jsonDump},
		"json_pp":   {Params: []string{"data"}, Required: 1, Call: jsonDump},
		"yaml_parse": {Params: []string{"data"}, Required: 1, Call: func(_ exprvalue.Call, args []any) (any, error) {
			s, ok := args[0].(string)
			if !ok {
				return nil, fmt.Errorf("needs a string, not a %s", exprvalue.Kind(args[0]))
			}
			if len(s) > maxParseBytes {
				return nil, fmt.Errorf("the text is longer than %d bytes", maxParseBytes)
			}
			// Anchors and aliases are refused, as Mistral's hardened
			// loader neutralises them: they are how a short document
			// expands into a huge one.
			if strings.ContainsAny(s, "&*") && yamlHasAlias(s) {
				return nil, fmt.Errorf("YAML anchors and aliases are not allowed")
			}
			j, err := yaml.YAMLToJSON([]byte(s))
			if err != nil {
				return nil, fmt.Errorf("invalid YAML: %v", err)
			}
			return decodeJSON(j)
		}},
		"yaml_dump": {Params: []string{"data"}, Required: 1, Call: func(_ exprvalue.Call, args []any) (any, error) {
			b, err := yaml.Marshal(args[0])
			if err != nil {
				return nil, fmt.Errorf("cannot encode a %s as YAML", exprvalue.Kind(args[0]))
			}
			return string(b), nil
		}},
	}
}

func jsonDump(_ exprvalue.Call, args []any) (any, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(args[0]); err != nil {
		return nil, fmt.Errorf("cannot encode a %s as JSON", exprvalue.Kind(args[0]))
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// decodeJSON decodes with integers kept as int64 and other numbers as
// float64.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid JSON: text after the value")
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		n, _ := exprvalue.Number(x)
		return n.Value()
	case map[string]any:
		for k, it := range x {
			x[k] = numbers(it)
		}
	case []any:
		for i, it := range x {
			x[i] = numbers(it)
		}
	}
	return v
}

// yamlHasAlias reports whether a YAML document uses an anchor (&name) or
// an alias (*name) outside quoted text, conservatively.
func yamlHasAlias(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		inS, inD := false, false
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '\'' && !inD:
				inS = !inS
			case c == '"' && !inS:
				inD = !inD
			case c == '#' && !inS && !inD && (i == 0 || line[i-1] == ' '):
				i = len(line)
			case (c == '&' || c == '*') && !inS && !inD && (i == 0 || strings.ContainsRune(" [{,-:", rune(line[i-1]))) && i+1 < len(line) && line[i+1] != ' ':
				return true
			}
		}
	}
	return false
}
