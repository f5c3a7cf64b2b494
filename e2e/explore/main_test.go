package explore

import (
	"testing"

	"github.com/ingestd/ingestd/internal/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }
