//! Stack headroom, measured: the main stack is painted with a pattern at start, and the
//! monitor later finds how far down the pattern was overwritten (the high-water mark).
//!
//! The main stack is the region esp-hal's linker script (`stack.x`) reserves between
//! `_stack_end` (lowest address) and `_stack_start` (highest; the stack grows down from
//! it). esp-rtos runs its main task there, and that task is the thread-mode embassy
//! executor: the Wi-Fi join loop, the IP stack, the poll and the monitor all run on this
//! one stack. The C3 and C6 have no separate interrupt stack: an interrupt (the step
//! tick, the panel's executor, the Wi-Fi MAC, the RMT) pushes its frame onto whichever
//! stack it interrupted, so the main stack's mark includes the interrupts that came while
//! the thread tasks ran. The Wi-Fi driver's own tasks run on stacks esp-rtos allocates
//! from the heap and does not expose; they cannot be measured from here (esp-rtos checks a
//! guard word at their bottom on every switch and panics naming the overflow).
//!
//! The guard word esp-hal keeps near the bottom (`__stack_chk_guard`, with a watchpoint on
//! it) is never painted: the painted range starts just above it.

use core::ptr::{addr_of, read_volatile, write_volatile};

/// The paint: not a plausible address, return value or small number.
const PAINT: u32 = 0xA5C3_5A3C;

/// Bytes left unpainted below the stack pointer at the time of painting, for the painting
/// function's own frame.
const MARGIN: usize = 256;

unsafe extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
    static __stack_chk_guard: u32;
}

/// The main stack: its top, its size, and the lowest word that may be painted (above the
/// guard word).
fn bounds() -> (usize, usize, usize) {
    let top = addr_of!(_stack_start) as usize;
    let bottom = addr_of!(_stack_end) as usize;
    let guard = addr_of!(__stack_chk_guard) as usize;
    (top, top - bottom, guard + 4)
}

#[inline(always)]
fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer register, touches nothing else.
    unsafe { core::arch::asm!("mv {}, sp", out(reg) sp) };
    sp
}

/// Paints the unused part of the main stack. Call once, first thing in `main`.
#[inline(never)]
pub fn paint() {
    let (_, _, low) = bounds();
    let high = (stack_pointer() - MARGIN) & !3;
    let mut at = low;
    while at < high {
        // SAFETY: `low..high` lies in the main stack below the live frames and above the
        // guard word; nothing else owns that memory.
        unsafe { write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The main stack's size and the most of it ever used (bytes), from the paint.
pub fn main_high_water() -> (usize, usize) {
    let (top, size, low) = bounds();
    let mut at = low;
    // SAFETY: reads words of the main stack below the live frames (the scan stops at the
    // first overwritten word, which is at or below the deepest frame ever pushed).
    while at < top && unsafe { read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    (size, top - at)
}
