package record

import "errors"

// Check returns a check (a segment.RecordCheck) that validates a stored line
// under rules (strict JSON object, UTF-8, depth) and returns its timestamp.
// Stored records always carry a timestamp field (intake adds one when
// missing), so a line without one is a problem.
func Check(rules Rules) func(line []byte) (int64, error) {
	p := NewParser(rules)
	return func(line []byte) (int64, error) {
		s := &p.sc
		s.src, s.pos, s.dst = line, 0, s.dst[:0]
		err := s.scanTop()
		end := s.pos
		s.src = nil
		if err != nil {
			return 0, err
		}
		if end != len(line) {
			return 0, errors.New("data after the JSON object")
		}
		if len(s.dst) != len(line) {
			return 0, errors.New("record is not in compact form")
		}
		if s.tsRank < 0 {
			return 0, errors.New("record has no timestamp field")
		}
		return ParseTimestamp(line[s.tsStart:s.tsEnd])
	}
}
