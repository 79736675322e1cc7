package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

func runIdentity(ctx context.Context, args []string, stdio Stdio, loader Loader) error {
	fs := newFlagSet("identity", stdio)
	format := fs.String("format", "json", "output format: json or env")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: identity takes no arguments, got %q", ErrUsage, fs.Args())
	}
	if *format != "json" && *format != "env" {
		return fmt.Errorf("%w: --format=%q is invalid: expected json or env", ErrUsage, *format)
	}
	_, id, err := loadIdentity(ctx, loader, Need{})
	if err != nil {
		return err
	}
	if *format == "env" {
		_, err = io.WriteString(stdio.Out, id.Env())
		return err
	}
	enc := json.NewEncoder(stdio.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(id)
}
