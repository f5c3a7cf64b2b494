// Package ui holds the explorer page the daemon serves under /ui/: plain
// HTML, CSS and JavaScript embedded in the binary, with no build step and
// no request outside the daemon (its histogram is drawn as SVG by hand).
package ui

import "embed"

// Files are the page's assets: index.html, app.js, app.css.
//
//go:embed index.html app.js app.css
var Files embed.FS
