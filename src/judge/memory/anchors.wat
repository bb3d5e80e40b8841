;; The anchor prefilter of the memory indicator scan (indicators.ts), in WebAssembly SIMD.
;; Compiled by scripts/build-wasm.mjs (wabt's wat2wasm) into anchors-wasm.ts, which holds the
;; bytes; test/unit/memory/anchors.test.ts compiles this file again and checks that the
;; committed bytes are what it gives, and that the filter returns what its rule, tested byte
;; by byte, gives.
;;
;; candidates(ptr, len, outDots, outColons, cap) -> the number of dots
;;
;; One pass over the `len` bytes at `ptr`, sixteen at a time. Writes to outDots (u32 each, in
;; increasing order) every position i of a dot, and to outColons every position of a colon
;; (their number in the global `colons`), with 1 <= i < len - 1 and
;;   either b[i-1] is [0-9A-Za-z], b[i+1] is [0-9A-Za-z] (for a colon also "/" or ":"), and
;;          the bytes i-5 .. i+5 hold a run of six printable ones (0x20-0x7e) through i
;;          (an ASCII string's anchor: the scanner's first tests, and its shortest string),
;;   or     b[i-1] == 0 and b[i+1] == 0 (a UTF-16LE string's anchor, tested further there).
;; Bytes outside [ptr, ptr + len) are read (up to 16 before and 21 after) but only ever add
;; positions, never remove one: the caller keeps that much memory around its data, and the
;; scanner tests every position again on the bytes it has. Any other anchor would fail the
;; scanner's first tests, so it reads the same strings whether its anchors come from here or
;; from Buffer.indexOf. At most one anchor in two bytes passes (the byte before an ASCII one is
;; a letter or a digit, a UTF-16 one's a NUL): past `cap` positions of a kind, the filter traps.
(module
  (import "env" "memory" (memory 1 65536 shared))
  (global $colons (export "colons") (mut i32) (i32.const 0))

  (func (export "candidates")
    (param $ptr i32) (param $len i32) (param $outD i32) (param $outC i32) (param $cap i32)
    (result i32)
    (local $p i32) (local $a i32) (local $end i32) (local $nd i32) (local $nc i32)
    (local $bits i32) (local $i i32)
    (local $cur v128) (local $md v128) (local $mc v128) (local $prev v128) (local $next v128)
    (local $ap v128) (local $an v128) (local $utf v128) (local $run v128)
    (local $l1 v128) (local $l2 v128) (local $l3 v128) (local $l4 v128) (local $l5 v128)
    (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $r4 v128) (local $r5 v128)
    (global.set $colons (i32.const 0))
    (if (i32.lt_u (local.get $len) (i32.const 3)) (then (return (i32.const 0))))
    (local.set $end (i32.sub (local.get $len) (i32.const 1)))
    (local.set $p (i32.const 1))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i32.add (local.get $ptr) (local.get $p)))
        (local.set $cur (v128.load (local.get $a)))
        (local.set $md (i8x16.eq (local.get $cur) (i8x16.splat (i32.const 0x2e))))
        (local.set $mc (i8x16.eq (local.get $cur) (i8x16.splat (i32.const 0x3a))))
        (if (v128.any_true (v128.or (local.get $md) (local.get $mc)))
          (then
            (local.set $prev (v128.load (i32.sub (local.get $a) (i32.const 1))))
            (local.set $next (v128.load offset=1 (local.get $a)))
            ;; [0-9A-Za-z] before and after
            (local.set $ap
              (v128.or
                (i8x16.lt_u (i8x16.sub (local.get $prev) (i8x16.splat (i32.const 0x30)))
                  (i8x16.splat (i32.const 10)))
                (i8x16.lt_u
                  (i8x16.sub (v128.or (local.get $prev) (i8x16.splat (i32.const 0x20)))
                    (i8x16.splat (i32.const 0x61)))
                  (i8x16.splat (i32.const 26)))))
            (local.set $an
              (v128.or
                (i8x16.lt_u (i8x16.sub (local.get $next) (i8x16.splat (i32.const 0x30)))
                  (i8x16.splat (i32.const 10)))
                (i8x16.lt_u
                  (i8x16.sub (v128.or (local.get $next) (i8x16.splat (i32.const 0x20)))
                    (i8x16.splat (i32.const 0x61)))
                  (i8x16.splat (i32.const 26)))))
            (local.set $utf
              (v128.and
                (i8x16.eq (local.get $prev) (v128.const i64x2 0 0))
                (i8x16.eq (local.get $next) (v128.const i64x2 0 0))))
            ;; A run of six printable bytes through i: l_k = bytes i-k .. i-1 all printable,
            ;; r_k = bytes i+1 .. i+k; run = l5 | l4&r1 | l3&r2 | l2&r3 | l1&r4 | r5 (the
            ;; anchor itself is printable).
            (local.set $l1 (i8x16.lt_u (i8x16.sub (local.get $prev) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f))))
            (local.set $l2 (v128.and (local.get $l1) (i8x16.lt_u (i8x16.sub (v128.load (i32.sub (local.get $a) (i32.const 2))) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $l3 (v128.and (local.get $l2) (i8x16.lt_u (i8x16.sub (v128.load (i32.sub (local.get $a) (i32.const 3))) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $l4 (v128.and (local.get $l3) (i8x16.lt_u (i8x16.sub (v128.load (i32.sub (local.get $a) (i32.const 4))) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $l5 (v128.and (local.get $l4) (i8x16.lt_u (i8x16.sub (v128.load (i32.sub (local.get $a) (i32.const 5))) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $r1 (i8x16.lt_u (i8x16.sub (local.get $next) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f))))
            (local.set $r2 (v128.and (local.get $r1) (i8x16.lt_u (i8x16.sub (v128.load offset=2 (local.get $a)) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $r3 (v128.and (local.get $r2) (i8x16.lt_u (i8x16.sub (v128.load offset=3 (local.get $a)) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $r4 (v128.and (local.get $r3) (i8x16.lt_u (i8x16.sub (v128.load offset=4 (local.get $a)) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $r5 (v128.and (local.get $r4) (i8x16.lt_u (i8x16.sub (v128.load offset=5 (local.get $a)) (i8x16.splat (i32.const 0x20))) (i8x16.splat (i32.const 0x5f)))))
            (local.set $run
              (v128.or
                (v128.or (local.get $l5) (local.get $r5))
                (v128.or
                  (v128.or (v128.and (local.get $l4) (local.get $r1)) (v128.and (local.get $l3) (local.get $r2)))
                  (v128.or (v128.and (local.get $l2) (local.get $r3)) (v128.and (local.get $l1) (local.get $r4))))))
            ;; an ASCII anchor: letters or digits around, in a run of six; or a UTF-16 one
            (local.set $md
              (v128.and (local.get $md)
                (v128.or (local.get $utf)
                  (v128.and (local.get $run) (v128.and (local.get $ap) (local.get $an))))))
            (local.set $mc
              (v128.and (local.get $mc)
                (v128.or (local.get $utf)
                  (v128.and (local.get $run)
                    (v128.and (local.get $ap)
                      (v128.or (local.get $an)
                        (v128.or
                          (i8x16.eq (local.get $next) (i8x16.splat (i32.const 0x2f)))
                          (i8x16.eq (local.get $next) (i8x16.splat (i32.const 0x3a))))))))))
            (local.set $bits (i8x16.bitmask (local.get $md)))
            (block $lanes
              (loop $each
                (br_if $lanes (i32.eqz (local.get $bits)))
                (local.set $i (i32.add (local.get $p) (i32.ctz (local.get $bits))))
                (br_if $lanes (i32.ge_u (local.get $i) (local.get $end)))
                (if (i32.ge_u (local.get $nd) (local.get $cap)) (then (unreachable)))
                (i32.store
                  (i32.add (local.get $outD) (i32.shl (local.get $nd) (i32.const 2)))
                  (local.get $i))
                (local.set $nd (i32.add (local.get $nd) (i32.const 1)))
                (local.set $bits
                  (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                (br $each)))
            (local.set $bits (i8x16.bitmask (local.get $mc)))
            (block $lanes
              (loop $each
                (br_if $lanes (i32.eqz (local.get $bits)))
                (local.set $i (i32.add (local.get $p) (i32.ctz (local.get $bits))))
                (br_if $lanes (i32.ge_u (local.get $i) (local.get $end)))
                (if (i32.ge_u (local.get $nc) (local.get $cap)) (then (unreachable)))
                (i32.store
                  (i32.add (local.get $outC) (i32.shl (local.get $nc) (i32.const 2)))
                  (local.get $i))
                (local.set $nc (i32.add (local.get $nc) (i32.const 1)))
                (local.set $bits
                  (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))
                (br $each)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $blocks)))
    (global.set $colons (local.get $nc))
    (local.get $nd)))
