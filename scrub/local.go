package scrub

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/ingestd/ingestd/segment"
)

// errGone: a listed file vanished before it was read (compaction replaced
// it, or the shipper removed the local copy); not a problem.
var errGone = errors.New("scrub: file gone")

// LocalFiles lists the sealed segment files under a data dir.
type LocalFiles struct{ DataDir string }

var _ Lister = LocalFiles{}

// List implements Lister.
func (l LocalFiles) List(ctx context.Context) ([]Target, error) {
	days, err := segment.ListDays(l.DataDir)
	if err != nil {
		return nil, err
	}
	var out []Target
	for _, d := range days {
		sealed, _, err := segment.DayFiles(d.Dir)
		if err != nil {
			return nil, err
		}
		for _, p := range sealed {
			st, err := os.Stat(p)
			if err != nil {
				continue
			}
			p := p
			out = append(out, Target{Name: p, Day: d.Start, Size: st.Size(), Open: func() (io.ReaderAt, func(), error) {
				f, err := os.Open(p)
				if os.IsNotExist(err) {
					return nil, nil, errGone
				}
				if err != nil {
					return nil, nil, err
				}
				return f, func() { f.Close() }, nil
			}})
		}
	}
	return out, nil
}
