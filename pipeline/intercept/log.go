package intercept

import (
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logLevel is the level of a log action.
type logLevel = zapcore.Level

func parseLevel(s string) (logLevel, error) {
	switch s {
	case "", "info":
		return zapcore.InfoLevel, nil
	case "debug":
		return zapcore.DebugLevel, nil
	case "warn":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	}
	return 0, fmt.Errorf("level %q: want debug, info, warn or error", s)
}

// log writes what the rule matched. Only the envelope and what the message
// names are logged, never its arguments or result: they may hold secrets.
func (e *Engine) log(st *evaluation, r *compiledRule, level logLevel) {
	if ce := e.logger.Check(level, "intercept: a rule matched"); ce != nil {
		ce.Write(st.fields(r)...)
	}
}

// fields describe the message for a log line.
func (st *evaluation) fields(r *compiledRule, extra ...zap.Field) []zap.Field {
	method, target := st.what()
	fs := make([]zap.Field, 0, 9+len(extra))
	fs = append(fs,
		zap.String("rule", r.name),
		zap.String("direction", st.ex.Direction.String()),
		zap.String("kind", st.m.Kind.String()),
		zap.String("method", method),
	)
	if target != "" {
		fs = append(fs, zap.String("target", target))
	}
	if st.m.ID != nil {
		fs = append(fs, zap.ByteString("id", st.m.ID))
	}
	if st.ex.SessionID != "" {
		fs = append(fs, zap.String("session", st.ex.SessionID))
	}
	if st.ex.User != "" {
		fs = append(fs, zap.String("user", st.ex.User))
	}
	if st.ex.ClientIP != "" {
		fs = append(fs, zap.String("client_ip", st.ex.ClientIP))
	}
	return append(fs, extra...)
}
