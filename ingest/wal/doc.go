// Package wal is ingestd's write-ahead log: every accepted request becomes one
// entry, written and fsynced by a single writer goroutine that commits all
// pending entries with one write and one fdatasync (group commit), before
// anyone is answered.
//
// On disk, <dir>/<first seq as 16 hex digits>.wal files hold entries:
//
//	u32 length of body | u32 CRC-32C of body | body
//	body: u64 sequence | u8 flags (bit 0: payload is s2-compressed) | payload
//
// Sequences start at 1 and increase by one across files. A crash can leave a
// torn tail in the newest file (a partial entry, zeros, a bad last entry);
// Open cuts it off. Damage anywhere else is a *CorruptionError: the daemon
// stops with a message naming the file and offset.
package wal
