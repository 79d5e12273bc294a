package stdio

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name  string
		input string
		max   int
		want  []string // "!" marks errLineTooLong
	}{
		{"lines", "a\nbb\nccc\n", 10, []string{"a", "bb", "ccc"}},
		{"last line without newline", "a\nb", 10, []string{"a", "b"}},
		{"empty lines kept", "a\n\nb\n", 10, []string{"a", "", "b"}},
		{"exactly max", "abcd\n", 4, []string{"abcd"}},
		{"too long is skipped, stream goes on", "abcde\nok\n", 4, []string{"!", "ok"}},
		{"too long at end without newline", "ok\n" + long, 10, []string{"ok", "!"}},
		{"longer than the reader's buffer", long + "\n" + "z\n", 200, []string{long, "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := newLineReader(strings.NewReader(tt.input), tt.max)
			lr.r.Reset(strings.NewReader(tt.input)) // keep the default size
			var got []string
			for {
				line, err := lr.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if errors.Is(err, errLineTooLong) {
					got = append(got, "!")
					continue
				}
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				got = append(got, string(line))
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLineReaderSmallBuffer(t *testing.T) {
	// A line spanning several reads of the underlying buffer.
	line := strings.Repeat("y", 70<<10)
	lr := newLineReader(strings.NewReader(line+"\nz\n"), 100<<10)
	got, err := lr.next()
	if err != nil || string(got) != line {
		t.Fatalf("long line: err=%v len=%d", err, len(got))
	}
	got, err = lr.next()
	if err != nil || string(got) != "z" {
		t.Fatalf("next line: %q %v", got, err)
	}
}
