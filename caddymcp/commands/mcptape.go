package commands

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-mcp/caddy-mcp/tape"
	"github.com/caddy-mcp/caddy-mcp/tape/verify"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "mcp-tape",
		Usage: `show <tape> | verify <tape> --to <command line|URL> [--ignore <json-pointer>]... [--timeout <duration>]`,
		Short: "Shows a recorded MCP session, or verifies a server against it",
		Long: `
Works with the tapes the mcp_proxy record subdirective writes (one JSONL file
per session; a rotated tape's numbered files are read as one).

show <tape> prints a readable transcript: the header, then one line per
message with its time since the start, an arrow (→ toward the server,
← toward the client), the method and tool or the id answered, the body
(truncated) and what the pipeline did when it did anything but pass it.

verify <tape> --to <command line|URL> replays the client side of the tape
against a live server — a command line run as a stdio server (split into
words as caddy mcp-proxy --to does, no shell), or an http(s):// Streamable
HTTP endpoint — and compares each answer with the recorded one (a
structural JSON diff; ids aside). --ignore <json-pointer> (repeatable; "*"
matches any member) leaves volatile fields out, e.g.
--ignore /result/serverInfo/version. Requests the server makes meanwhile
(sampling, elicitation, roots) get the client's recorded answers. The exit
status is 1 when an answer differs, 0 when every answer is as recorded.
`,
		CobraFunc: func(cmd *cobra.Command) {
			show := &cobra.Command{
				Use:   "show <tape>",
				Short: "Prints a readable transcript of a tape",
				Args:  cobra.ExactArgs(1),
				RunE: func(_ *cobra.Command, args []string) error {
					f, err := tape.ReadFile(args[0])
					if err != nil {
						return err
					}
					return tape.Show(os.Stdout, f)
				},
			}
			ver := &cobra.Command{
				Use:   "verify <tape> --to <command line|URL>",
				Short: "Replays a tape's client side against a live server and diffs the answers",
				Args:  cobra.ExactArgs(1),
			}
			ver.Flags().StringP("to", "t", "", "The server: a command line to run over stdio, or an http(s):// URL")
			ver.Flags().StringArray("ignore", nil, "A JSON pointer into answers not to compare (repeatable)")
			ver.Flags().Duration("timeout", verify.DefaultTimeout, "How long to wait for each answer")
			ver.RunE = caddycmd.WrapCommandFuncForCobra(func(fs caddycmd.Flags) (int, error) {
				return cmdVerify(fs, ver.Flags().Args())
			})
			cmd.AddCommand(show, ver)
		},
	})
}

// cmdVerify runs `caddy mcp-tape verify`.
func cmdVerify(fs caddycmd.Flags, args []string) (int, error) {
	if len(args) != 1 {
		return 2, errors.New("verify takes one tape: verify <tape> --to <command line|URL>")
	}
	to := fs.String("to")
	if to == "" {
		return 2, errors.New("--to is required: a command line (a stdio MCP server) or an http(s):// URL")
	}
	ignore, err := fs.GetStringArray("ignore")
	if err != nil {
		return 2, err
	}
	timeout, err := fs.GetDuration("timeout")
	if err != nil {
		return 2, err
	}
	f, err := tape.ReadFile(args[0])
	if err != nil {
		return 2, err
	}
	target, err := verifyTarget(to)
	if err != nil {
		return 2, err
	}
	rep, err := verify.Run(context.Background(), f, target, verify.Options{Ignore: ignore, Timeout: timeout})
	_ = target.Close()
	if err != nil {
		return 2, err
	}
	verify.Print(os.Stdout, f.Name, rep)
	if rep.Failed() {
		return 1, fmt.Errorf("%d of %d answers differ from the tape, %d tool definitions drifted", len(rep.Differences), rep.Requests, len(rep.Drifts))
	}
	return 0, nil
}

// verifyTarget starts the server --to names.
func verifyTarget(to string) (verify.Target, error) {
	if strings.HasPrefix(to, "http://") || strings.HasPrefix(to, "https://") {
		return verify.HTTP(to, nil), nil
	}
	argv, err := splitCommandLine(to)
	if err != nil {
		return nil, fmt.Errorf("--to: %v", err)
	}
	return verify.Command(argv, os.Stderr)
}
