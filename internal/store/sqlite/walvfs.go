package sqlite

import (
	"fmt"
	"sync"
	"unsafe"

	"modernc.org/libc"
	lib "modernc.org/sqlite/lib"
)

// The WAL's writes, gathered: SQLite appends a commit to the WAL as two
// pwrite calls a page (the frame's header, then the page), and with a
// thousand conversations a group dirties about one page an event, so a
// group of 1,400 events made nearly 2,000 system calls before its fsync
// (8% of a node's CPU under load, a fifth of the writer's time). walVFS
// is the operating system's VFS with two differences: writes to a WAL file
// that follow each other are gathered in memory and reach the file in one
// call, at the latest when SQLite syncs it; and the file grows ahead of
// them, a megabyte of zeros at a time (walGrowth).
//
// That is safe only because every connection to the store runs with
// synchronous=FULL (Open's DSN; TestEveryConnectionSyncsItsCommits): SQLite
// then syncs the WAL at each commit before it makes the commit visible in
// the WAL index, so another connection never reads a frame still in a
// buffer. A frame the writer reads back, a size asked, a truncation, a file
// control or a close each sends the buffer first. Nothing is acknowledged
// before the sync, so a crash loses only what SQLite had not yet called
// durable, as before. Only frames of a transaction that never commits
// can wait in a buffer past its end (spilled, then rolled back): they are
// dropped when the connection gives up the WAL's write lock, before any
// other writer may append at the same offsets (walShmLock). A write that
// fails when the buffer goes out fails every later call on the file until
// then, so that SQLite rolls the transaction back rather than commit
// without those frames (flush). A WAL whose database file does not promise
// power-safe overwrite is not gathered: SQLite would pad its last frame
// after the sync (see walOpen). The store never sets locking_mode
// EXCLUSIVE, in which SQLite takes no WAL locks and walShmLock would not
// see the transaction end (TestEveryConnectionSyncsItsCommits checks).
//
// Everything here runs in SQLite's C world, translated to Go: the file
// objects and the buffers are in SQLite's heap, and the functions are
// called through SQLite's function pointers.

// walVFSName is the VFS Open's DSN names.
const walVFSName = "openteller-wal"

// walBufferSize is the most a WAL file's handle gathers before writing:
// 30 frames of 4 KiB pages. The OS VFS hands the system at most 0x1ffff
// bytes a call (it masks the length: a write of 1 MiB failed as a full
// disk), so this is that, in whole 4 KiB.
const walBufferSize = 0x1ffff &^ 0xfff

// walGrowth is how far a WAL file grows at a time. SQLite appends to the
// WAL until a checkpoint lets it start again from its beginning, and a
// sync that makes a file longer must also make its new blocks and the
// file's size durable (on ext4, in a commit of the filesystem's journal).
// So a WAL file grows ahead of its frames, by zeros up to the next
// multiple of walGrowth, and most commits write over space the file
// already holds, as PostgreSQL's do over its WAL segments. Measured
// (BENCHMARKS.md, fifteenth session): the writer's commits took 13-19%
// less time. (This build of SQLite syncs with fsync, so a commit still
// records the file's new modification time; syncing with fdatasync
// instead gained nothing more.) The price: while the file grows, each
// megabyte is written twice, as zeros and then as frames, and the commit
// that crosses into it syncs the zeros too. Zeros past the last frame are
// never a frame: SQLite's recovery stops at the first frame that does not
// carry the header's salt and checksum, as it does at the old frames a
// restarted log leaves behind (TestWALGrowsAheadOfItsFrames). The store
// sets no journal_size_limit; one under walGrowth would have SQLite cut
// the file at each restart and walVFS write it back with zeros.
var walGrowth int64 = 1 << 20

// walZeros is walBufferSize zero bytes in SQLite's heap, which a WAL file
// grows by (0 when SQLite's heap had no room: the files then grow as
// SQLite writes).
var walZeros uintptr

// walTail follows the operating system VFS's own file object in each file
// walVFS opens (SQLite allocates szOsFile bytes for both). A WAL file uses
// all of it, a main database file only real, other files none.
type walTail struct {
	real  uintptr // the OS VFS's io methods, which the file's own header named
	buf   uintptr // walBufferSize bytes from sqlite3_malloc, or 0 until the first write
	start int64   // the file offset of buf[0]
	n     int64   // bytes gathered
	db    uintptr // the WAL's database file
	err   int32   // a write of the buffer failed: every call fails until drop
	// size is how far the file is known to be written, zeros included;
	// sized says it is known (grow).
	size  int64
	sized bool
}

var (
	walVFSOnce sync.Once
	walVFSErr  error
	// osFileSize is the OS VFS's szOsFile: where a file's walTail starts.
	osFileSize uintptr
	osOpen     uintptr // the OS VFS's xOpen

	walMethodsMu sync.Mutex
	// walMethods and dbMethods map the OS VFS's io methods to walVFS's
	// copies of them for WAL files and for database files (one copy per
	// methods table the OS VFS hands out).
	walMethods = map[uintptr]uintptr{}
	dbMethods  = map[uintptr]uintptr{}

	walOfMu sync.Mutex
	// walOf maps each open database file to its gathering WAL file.
	walOf = map[uintptr]uintptr{}
)

// registerWALVFS registers walVFS with SQLite, once.
func registerWALVFS() error {
	walVFSOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		osVFS := lib.Xsqlite3_vfs_find(tls, 0)
		if osVFS == 0 {
			walVFSErr = fmt.Errorf("sqlite: no default VFS")
			return
		}
		vfsSize := unsafe.Sizeof(lib.Tsqlite3_vfs{})
		p := lib.Xsqlite3_malloc64(tls, uint64(vfsSize)+uint64(len(walVFSName))+1)
		if p == 0 {
			walVFSErr = fmt.Errorf("sqlite: out of memory")
			return
		}
		v := (*lib.Tsqlite3_vfs)(ptr(p))
		*v = *(*lib.Tsqlite3_vfs)(ptr(osVFS))
		name := unsafe.Slice((*byte)(ptr(p+vfsSize)), len(walVFSName)+1)
		copy(name, walVFSName)
		name[len(walVFSName)] = 0
		osFileSize = (uintptr(v.FszOsFile) + 7) &^ 7
		osOpen = v.FxOpen
		v.FzName = p + vfsSize
		v.FpNext = 0
		v.FszOsFile = int32(osFileSize + unsafe.Sizeof(walTail{}))
		v.FxOpen = cFuncPointer(walOpen)
		if z := lib.Xsqlite3_malloc64(tls, walBufferSize); z != 0 {
			clear(unsafe.Slice((*byte)(ptr(z)), walBufferSize))
			walZeros = z
		}
		if rc := lib.Xsqlite3_vfs_register(tls, p, 0); rc != lib.SQLITE_OK {
			walVFSErr = fmt.Errorf("sqlite: register VFS: code %d", rc)
		}
	})
	return walVFSErr
}

// cFuncPointer turns a Go function into the function pointer translated C
// code calls (as modernc.org/sqlite does for its own callbacks).
func cFuncPointer[T any](f T) uintptr {
	return *(*uintptr)(unsafe.Pointer(&struct{ f T }{f}))
}

// ptr turns an address in SQLite's heap, which Go's collector neither
// moves nor frees, into a pointer. (A conversion written out,
// unsafe.Pointer(p), looks to go vet like one of a Go object's address
// kept as a number.)
func ptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

func tailOf(f uintptr) *walTail { return (*walTail)(ptr(f + osFileSize)) }

func methodsOf(f uintptr) *lib.Tsqlite3_io_methods {
	return (*lib.Tsqlite3_io_methods)(ptr((*lib.Tsqlite3_file)(ptr(f)).FpMethods))
}

// walOpen opens any file with the OS VFS. A database file gets walVFS's
// xShmLock, which watches the WAL's write lock; a WAL file of a database
// file that promises power-safe overwrite gets the methods that gather.
func walOpen(tls *libc.TLS, vfs, name, f uintptr, flags int32, outFlags uintptr) int32 {
	rc := (*(*func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{osOpen})))(tls, vfs, name, f, flags, outFlags)
	file := (*lib.Tsqlite3_file)(ptr(f))
	if rc != lib.SQLITE_OK || file.FpMethods == 0 {
		return rc
	}
	real := file.FpMethods
	switch {
	case flags&lib.SQLITE_OPEN_MAIN_DB != 0:
		if m := methodsFor(tls, real, dbMethods, dbMethodsOf); m != real {
			*tailOf(f) = walTail{real: real}
			file.FpMethods = m
		}
	case flags&lib.SQLITE_OPEN_WAL != 0:
		db := lib.Xsqlite3_database_file_object(tls, name)
		if db == 0 || methodsOf(db).FxShmLock != cFuncPointer(walShmLock) || deviceCharacteristics(tls, db)&lib.SQLITE_IOCAP_POWERSAFE_OVERWRITE == 0 {
			return rc // not a database file walVFS watches, or SQLite would pad frames: as the OS VFS
		}
		m := methodsFor(tls, real, walMethods, walMethodsOf)
		if m == real {
			return rc
		}
		*tailOf(f) = walTail{real: real, db: db}
		file.FpMethods = m
		walOfMu.Lock()
		walOf[db] = f
		walOfMu.Unlock()
	}
	return rc
}

func deviceCharacteristics(tls *libc.TLS, f uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{methodsOf(f).FxDeviceCharacteristics})))(tls, f)
}

// methodsFor returns walVFS's copy of the io methods real, from copies or
// made by edit (real's own when SQLite's heap is out of memory, and the
// file goes as the OS VFS has it).
func methodsFor(tls *libc.TLS, real uintptr, copies map[uintptr]uintptr, edit func(*lib.Tsqlite3_io_methods)) uintptr {
	walMethodsMu.Lock()
	defer walMethodsMu.Unlock()
	if m, ok := copies[real]; ok {
		return m
	}
	p := lib.Xsqlite3_malloc64(tls, uint64(unsafe.Sizeof(lib.Tsqlite3_io_methods{})))
	if p == 0 {
		return real
	}
	m := (*lib.Tsqlite3_io_methods)(ptr(p))
	*m = *(*lib.Tsqlite3_io_methods)(ptr(real))
	edit(m)
	copies[real] = p
	return p
}

// walMethodsOf puts walVFS's functions where the buffer matters.
func walMethodsOf(m *lib.Tsqlite3_io_methods) {
	m.FxClose = cFuncPointer(walClose)
	m.FxRead = cFuncPointer(walRead)
	m.FxWrite = cFuncPointer(walWrite)
	m.FxTruncate = cFuncPointer(walTruncate)
	m.FxSync = cFuncPointer(walSync)
	m.FxFileSize = cFuncPointer(walFileSize)
	m.FxFileControl = cFuncPointer(walFileControl)
	if m.FiVersion >= 3 {
		m.FxFetch = cFuncPointer(walFetch)
	}
}

// dbMethodsOf puts walShmLock in a database file's methods.
func dbMethodsOf(m *lib.Tsqlite3_io_methods) {
	if m.FiVersion >= 2 && m.FxShmLock != 0 {
		m.FxShmLock = cFuncPointer(walShmLock)
	}
}

// walShmLock takes or gives up a lock of the WAL index. When a connection
// gives up the WAL's write lock (SQLite's WAL_WRITE_LOCK, slot 0), each
// commit it made was synced, so all its WAL still gathers belongs to a
// transaction that did not commit: dropped, before another connection may
// write frames at the same offsets.
func walShmLock(tls *libc.TLS, f uintptr, offset, n, flags int32) int32 {
	if offset == 0 && flags&lib.SQLITE_SHM_UNLOCK != 0 && flags&lib.SQLITE_SHM_EXCLUSIVE != 0 {
		walOfMu.Lock()
		w := walOf[f]
		walOfMu.Unlock()
		if w != 0 {
			tailOf(w).drop()
		}
	}
	return (*(*func(*libc.TLS, uintptr, int32, int32, int32) int32)(unsafe.Pointer(&struct{ uintptr }{tailOf(f).methods().FxShmLock})))(tls, f, offset, n, flags)
}

func (t *walTail) methods() *lib.Tsqlite3_io_methods {
	return (*lib.Tsqlite3_io_methods)(ptr(t.real))
}

// osWrite writes with the OS VFS.
func (t *walTail) osWrite(tls *libc.TLS, f, buf uintptr, amt int32, off int64) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxWrite})))(tls, f, buf, amt, off)
}

// osFileSize asks the OS VFS the file's size, into *size.
func (t *walTail) osFileSize(tls *libc.TLS, f, size uintptr) int32 {
	return (*(*func(*libc.TLS, uintptr, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxFileSize})))(tls, f, size)
}

// flush writes what the handle gathered. SQLite was told those frames
// were written, so a failure is kept: every later call on the file fails
// (as an I/O error, which makes SQLite roll back the whole transaction,
// where a full disk would undo only a statement) until drop.
func (t *walTail) flush(tls *libc.TLS, f uintptr) int32 {
	if t.err != lib.SQLITE_OK || t.n == 0 {
		return t.err
	}
	n := t.n
	t.n = 0
	t.grow(tls, f, t.start, t.start+n)
	if t.osWrite(tls, f, t.buf, int32(n), t.start) != lib.SQLITE_OK {
		t.err = lib.SQLITE_IOERR_WRITE
	}
	return t.err
}

// grow writes zeros from the end of the file up to the multiple of
// walGrowth past end, before a write of off to end (walGrowth). Only a
// connection that holds the WAL's write lock writes to it, and none may
// cut it meanwhile, so the file's end is read afresh before it grows:
// zeros never land on another connection's frames. A write at the start
// is a restarted log, perhaps after another connection cut the file, so
// the end is read again then. Growing is a help, not a promise: a write
// of zeros that fails (a full disk) leaves the frames to be written as
// SQLite writes them, and to fail, if they do, on their own.
func (t *walTail) grow(tls *libc.TLS, f uintptr, off, end int64) {
	if off == 0 {
		t.sized = false
	}
	if (t.sized && end <= t.size) || walZeros == 0 {
		return
	}
	p := tls.Alloc(8)
	defer tls.Free(8)
	if t.osFileSize(tls, f, p) != lib.SQLITE_OK {
		t.sized = false
		return
	}
	t.size, t.sized = *(*int64)(ptr(p)), true
	for to := (end + walGrowth - 1) / walGrowth * walGrowth; t.size < to; {
		n := min(to-t.size, walBufferSize)
		if t.osWrite(tls, f, walZeros, int32(n), t.size) != lib.SQLITE_OK {
			return
		}
		t.size += n
	}
}

// drop forgets what the handle gathered, and a failure to write it: the
// transaction they belonged to is over.
func (t *walTail) drop() { t.n, t.err = 0, lib.SQLITE_OK }

func walWrite(tls *libc.TLS, f, buf uintptr, amt int32, off int64) int32 {
	t := tailOf(f)
	if t.err != lib.SQLITE_OK {
		return t.err
	}
	if t.n > 0 && off == t.start+t.n && t.n+int64(amt) <= walBufferSize {
		copy(unsafe.Slice((*byte)(ptr(t.buf+uintptr(t.n))), amt), unsafe.Slice((*byte)(ptr(buf)), amt))
		t.n += int64(amt)
		return lib.SQLITE_OK
	}
	if rc := t.flush(tls, f); rc != lib.SQLITE_OK {
		return rc
	}
	if int64(amt) >= walBufferSize/2 {
		t.grow(tls, f, off, off+int64(amt))
		return t.osWrite(tls, f, buf, amt, off)
	}
	if t.buf == 0 {
		if t.buf = lib.Xsqlite3_malloc64(tls, walBufferSize); t.buf == 0 {
			return t.osWrite(tls, f, buf, amt, off)
		}
	}
	copy(unsafe.Slice((*byte)(ptr(t.buf)), amt), unsafe.Slice((*byte)(ptr(buf)), amt))
	t.start, t.n = off, int64(amt)
	return lib.SQLITE_OK
}

func walRead(tls *libc.TLS, f, buf uintptr, amt int32, off int64) int32 {
	t := tailOf(f)
	if rc := t.flush(tls, f); rc != lib.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, uintptr, int32, int64) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxRead})))(tls, f, buf, amt, off)
}

func walSync(tls *libc.TLS, f uintptr, flags int32) int32 {
	t := tailOf(f)
	if rc := t.flush(tls, f); rc != lib.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxSync})))(tls, f, flags)
}

func walTruncate(tls *libc.TLS, f uintptr, size int64) int32 {
	t := tailOf(f)
	if rc := t.flush(tls, f); rc != lib.SQLITE_OK {
		return rc
	}
	rc := (*(*func(*libc.TLS, uintptr, int64) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxTruncate})))(tls, f, size)
	t.size, t.sized = size, rc == lib.SQLITE_OK
	return rc
}

func walFileSize(tls *libc.TLS, f, size uintptr) int32 {
	t := tailOf(f)
	if rc := t.flush(tls, f); rc != lib.SQLITE_OK {
		return rc
	}
	return t.osFileSize(tls, f, size)
}

func walFileControl(tls *libc.TLS, f uintptr, op int32, arg uintptr) int32 {
	t := tailOf(f)
	if rc := t.flush(tls, f); rc != lib.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxFileControl})))(tls, f, op, arg)
}

func walFetch(tls *libc.TLS, f uintptr, off int64, amt int32, pp uintptr) int32 {
	t := tailOf(f)
	if rc := t.flush(tls, f); rc != lib.SQLITE_OK {
		return rc
	}
	return (*(*func(*libc.TLS, uintptr, int64, int32, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxFetch})))(tls, f, off, amt, pp)
}

// walClose sends the buffer, frees it and closes the file. The file is
// closed even when the last write failed; the write's error is returned.
func walClose(tls *libc.TLS, f uintptr) int32 {
	t := tailOf(f)
	rc := t.flush(tls, f)
	if t.buf != 0 {
		lib.Xsqlite3_free(tls, t.buf)
		t.buf = 0
	}
	walOfMu.Lock()
	if walOf[t.db] == f {
		delete(walOf, t.db)
	}
	walOfMu.Unlock()
	closed := (*(*func(*libc.TLS, uintptr) int32)(unsafe.Pointer(&struct{ uintptr }{t.methods().FxClose})))(tls, f)
	if rc != lib.SQLITE_OK {
		return rc
	}
	return closed
}
