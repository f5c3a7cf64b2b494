package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// fetchSource copies the segment objects under an s3://bucket/prefix URL
// into a temporary data directory laid out as segments/dt=YYYY-MM-DD/, so
// the report, cat and verify read every node's files as local ones. Only
// days whose name starts with dayPrefix ("2026-10" for a month, "" for all)
// are fetched. The store's endpoint and credentials come from the config's
// storage section.
func fetchSource(ctx context.Context, src string, cfg *fileConfig, dayPrefix string) (dir string, cleanup func(), err error) {
	u, err := url.Parse(src)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", nil, fmt.Errorf("--source %q: want s3://bucket/prefix", src)
	}
	st := cfg.Storage
	if st.Endpoint == "" {
		return "", nil, fmt.Errorf("--source %s: set storage.endpoint (and credentials) in the config", src)
	}
	creds := credentials.NewStaticV4(st.AccessKey, st.SecretKey, "")
	if st.AccessKey == "" {
		creds = credentials.NewEnvAWS()
	}
	c, err := minio.New(st.Endpoint, &minio.Options{Creds: creds, Secure: st.Secure, Region: st.Region})
	if err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp("", "ingestd-source-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	prefix := strings.Trim(u.Path, "/")
	list := "dt=" + dayPrefix
	if prefix != "" {
		list = prefix + "/" + list
	}
	n := 0
	for o := range c.ListObjects(ctx, u.Host, minio.ListObjectsOptions{Prefix: list, Recursive: true}) {
		if o.Err != nil {
			cleanup()
			return "", nil, fmt.Errorf("--source %s: list: %w", src, o.Err)
		}
		day, name := path.Base(path.Dir(o.Key)), path.Base(o.Key)
		if !strings.HasPrefix(day, "dt=") || !strings.HasSuffix(name, ".ndjson.zst") {
			continue
		}
		dst := filepath.Join(dir, "segments", day, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			cleanup()
			return "", nil, err
		}
		if err := c.FGetObject(ctx, u.Host, o.Key, dst, minio.GetObjectOptions{}); err != nil {
			cleanup()
			return "", nil, fmt.Errorf("--source %s: get %s: %w", src, o.Key, err)
		}
		n++
	}
	if n == 0 {
		fmt.Fprintf(os.Stderr, "ingestd: warning: no segment objects under %s/%s\n", src, list)
	}
	return dir, cleanup, nil
}
