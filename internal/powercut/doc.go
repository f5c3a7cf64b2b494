// Package powercut is a FUSE filesystem for tests that loses, at a simulated
// power cut, everything POSIX does not promise to keep. It exists because
// kill -9 keeps the kernel's page cache: a crash test that only kills the
// process cannot tell fsync from no fsync, nor catch a missing fsync of a
// directory.
//
// The model follows LazyFS (used by Jepsen), extended to directory entries:
//
//   - File data. Every write and truncate since the file's last fsync or
//     fdatasync is pending. An fsync (or fdatasync: both also make the size
//     durable) makes all of them durable. At a cut, pending operations are
//     undone newest first. With torn writeback, a random prefix of each
//     file's pending operations is kept instead (in order, as a page cache
//     would write back), the last kept one possibly cut short at a random
//     byte.
//   - Directory entries. A directory's durable entries are the ones it had
//     at its last fsync. Creating, unlinking or renaming a name, and making
//     or removing a directory, change only the live entries. At a cut, each
//     directory comes back with its durable entries; a name whose directory
//     was never fsynced after the name appeared is gone, and so is a name
//     that an unsynced unlink or rename removed only from the live view:
//     it comes back. A new directory is reachable after a cut only if its
//     parent was fsynced after the mkdir, and so on up to the root (which
//     always exists): fsyncing a new folder's parent but not the
//     grandparent that gained the parent loses the whole subtree.
//   - The root directory of the mount stands for a folder that existed
//     before the test and is durable itself.
//
// ext4 and XFS usually commit more than this (a create is often durable
// before the directory's fsync); nothing guarantees it, and the model is
// the guarantee. Cross-directory renames are durable in the destination
// when it is fsynced and stay in the source until the source is fsynced;
// a file durable in two places after a cut comes back as two copies.
//
// The instant of the cut is Freeze: every operation after it fails with EIO
// and changes nothing, and an fsync in progress does not complete (a test
// freezes, then kills the daemon, then calls Cut). SetSyncDelay makes each
// fsync take as long as on a disk, so that random cuts land inside fsyncs.
//
// Everything lives in memory: the mount is meant for tests of tens to
// hundreds of MiB. The mount needs /dev/fuse and the right to mount (root,
// or fusermount3 from the fuse3 package); Available says whether the
// machine has them.
package powercut
