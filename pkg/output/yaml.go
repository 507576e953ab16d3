package output

import (
	"bytes"

	"go.yaml.in/yaml/v3"
)

// writeYAML converts a JSON document to block-style YAML, keeping member
// order.
func (p *Printer) writeYAML(jsonDoc []byte) error {
	b, err := jsonToYAML(jsonDoc)
	if err != nil {
		return err
	}
	_, err = p.out.Write(b)
	return err
}

func jsonToYAML(jsonDoc []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(jsonDoc, &n); err != nil {
		return nil, err
	}
	plain(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// plain drops the flow and quoting styles the JSON syntax implies, so the
// encoder picks block style and quotes only where YAML needs it.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}
