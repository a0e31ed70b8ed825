package sqlite

import (
	"context"
	"time"
)

// Writes of other processes. One server process serves a data folder, but
// the command line (`tortoise superuser upsert`, migrations) may write the
// file beside it. Its commits reach no change feed of the server's, and
// its row counts none of the server's counts (counts.go), which took the
// next commit of its own as the next generation: totals stayed short of a
// superuser the command line added until the server restarted, and
// cached answers went on showing what was before.
//
// Every commit that changes row counts bumps _meta's generation, the
// other process's too. watchOthers reads it every othersEvery; a
// generation ahead of the last this process applied (with none of its own
// commits in between) is another process's: the counts are forgotten
// (learnt again by COUNT(*), lazily) and the feed's OnLost observers (the
// record cache) told. The writer checks the same at each count-changing
// commit (writer.go), should one come before the watcher looks.

// othersEvery is how often watchOthers reads the generation.
const othersEvery = time.Second

func (s *Store) watchOthers() {
	t := time.NewTicker(othersEvery)
	defer t.Stop()
	for {
		select {
		case <-s.writerDone:
			return
		case <-t.C:
			s.checkOthers()
		}
	}
}

// checkOthers reads the generation on disk once and forgets the counts if
// another process moved it.
func (s *Store) checkOthers() {
	seq := s.commitSeq.Load()
	if seq%2 != 0 {
		return // a commit of ours is being applied: look next time
	}
	ctx, cancel := context.WithTimeout(context.Background(), othersEvery)
	defer cancel()
	var disk int64
	if err := s.rdb.QueryRowContext(ctx, genSQL).Scan(&disk); err != nil {
		return
	}
	if s.commitSeq.Load() != seq {
		return // a commit of ours came meanwhile: what was read may be it
	}
	if s.counts.forgetBehind(disk) {
		s.log.Info("another process wrote the database: row counts are counted again and cached answers dropped")
		s.feed.Lost()
	}
}
