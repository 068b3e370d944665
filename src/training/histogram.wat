;; The GBDT histogram kernel (src/training/gbdt-threads.ts has the same loop in TypeScript, and the
;; layout it works on). WebAssembly rather than TypeScript because this loop is most of a fit's
;; time, and here every access is a plain load or store (V8 bounds-checks each typed-array access)
;; and a bin's [gradient, hessian] pair is one 128-bit add. The sums are formed in the same order
;; as in the TypeScript loop, so both give the same trees, bit for bit.
;;
;; Compiled by `npm run build:wasm` into histogram-wasm.ts (a test checks that it is up to date).
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; For rows order[start, end) (the rows start..end-1 themselves when identity ≠ 0) and
  ;; features [from, to): histogram slot (f, bin) at hist + ((f << 8) + bin) * 24 holds
  ;; [gradient sum, hessian sum, count] as f64; the caller has zeroed them.
  ;; rowMajor: N × features bins (u8); order: u32 row numbers; gh: [gradient, hessian] f64 per row.
  (func (export "accumulate")
    (param $rowMajor i32) (param $features i32) (param $order i32) (param $gh i32) (param $hist i32)
    (param $start i32) (param $end i32) (param $identity i32) (param $from i32) (param $to i32)
    (local $k i32) (local $row i32) (local $pair v128) (local $bins i32) (local $f i32) (local $unrolledTo i32) (local $slot i32)
    (local.set $unrolledTo (i32.add (local.get $from) (i32.and (i32.sub (local.get $to) (local.get $from)) (i32.const -4))))
    (local.set $k (local.get $start))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $k) (local.get $end)))
        (local.set $row
          (select (local.get $k)
                  (i32.load (i32.add (local.get $order) (i32.shl (local.get $k) (i32.const 2))))
                  (local.get $identity)))
        (local.set $pair (v128.load (i32.add (local.get $gh) (i32.shl (local.get $row) (i32.const 4)))))
        (local.set $bins (i32.add (i32.add (local.get $rowMajor) (i32.mul (local.get $row) (local.get $features))) (local.get $from)))
        (local.set $f (local.get $from))
        ;; Four features at a time, as the TypeScript loop: the updates are independent. Each update is
        ;; written out: V8 did not inline a helper function here (1.1× the TypeScript loop, not 2.3×).
        (block $fourDone
          (loop $four
            (br_if $fourDone (i32.ge_u (local.get $f) (local.get $unrolledTo)))
            (local.set $slot (i32.add (local.get $hist) (i32.mul (i32.add (i32.shl (local.get $f) (i32.const 8)) (i32.load8_u (local.get $bins))) (i32.const 24))))
            (v128.store (local.get $slot) (f64x2.add (v128.load (local.get $slot)) (local.get $pair)))
            (f64.store offset=16 (local.get $slot) (f64.add (f64.load offset=16 (local.get $slot)) (f64.const 1)))
            (local.set $slot (i32.add (local.get $hist) (i32.mul (i32.add (i32.shl (i32.add (local.get $f) (i32.const 1)) (i32.const 8)) (i32.load8_u offset=1 (local.get $bins))) (i32.const 24))))
            (v128.store (local.get $slot) (f64x2.add (v128.load (local.get $slot)) (local.get $pair)))
            (f64.store offset=16 (local.get $slot) (f64.add (f64.load offset=16 (local.get $slot)) (f64.const 1)))
            (local.set $slot (i32.add (local.get $hist) (i32.mul (i32.add (i32.shl (i32.add (local.get $f) (i32.const 2)) (i32.const 8)) (i32.load8_u offset=2 (local.get $bins))) (i32.const 24))))
            (v128.store (local.get $slot) (f64x2.add (v128.load (local.get $slot)) (local.get $pair)))
            (f64.store offset=16 (local.get $slot) (f64.add (f64.load offset=16 (local.get $slot)) (f64.const 1)))
            (local.set $slot (i32.add (local.get $hist) (i32.mul (i32.add (i32.shl (i32.add (local.get $f) (i32.const 3)) (i32.const 8)) (i32.load8_u offset=3 (local.get $bins))) (i32.const 24))))
            (v128.store (local.get $slot) (f64x2.add (v128.load (local.get $slot)) (local.get $pair)))
            (f64.store offset=16 (local.get $slot) (f64.add (f64.load offset=16 (local.get $slot)) (f64.const 1)))
            (local.set $f (i32.add (local.get $f) (i32.const 4)))
            (local.set $bins (i32.add (local.get $bins) (i32.const 4)))
            (br $four)))
        (block $oneDone
          (loop $one
            (br_if $oneDone (i32.ge_u (local.get $f) (local.get $to)))
            (local.set $slot (i32.add (local.get $hist) (i32.mul (i32.add (i32.shl (local.get $f) (i32.const 8)) (i32.load8_u (local.get $bins))) (i32.const 24))))
            (v128.store (local.get $slot) (f64x2.add (v128.load (local.get $slot)) (local.get $pair)))
            (f64.store offset=16 (local.get $slot) (f64.add (f64.load offset=16 (local.get $slot)) (f64.const 1)))
            (local.set $f (i32.add (local.get $f) (i32.const 1)))
            (local.set $bins (i32.add (local.get $bins) (i32.const 1)))
            (br $one)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $rows)))))
