//! A byte cursor that follows the framing rules of CPython's pure-Python unpickler.
//!
//! The C unpickler ignores frame boundaries; the pure-Python one (`pickle._Unframer`)
//! insists that every read lies inside the current frame or starts exactly where it ends.
//! Following the stricter of the two keeps us from accepting data one of them rejects.

use crate::Error;

/// A FRAME opcode's reach: the 8-byte length at `len_at` covers `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) len_at: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    frame: Option<Frame>,
    /// Offset of the opcode being decoded, for error reports.
    pub(crate) op_offset: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader {
            data,
            pos: 0,
            frame: None,
            op_offset: 0,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    fn truncated(&self) -> Error {
        Error::Truncated {
            offset: self.op_offset,
        }
    }

    fn bad_frame(&self, reason: &'static str) -> Error {
        Error::BadFrame {
            offset: self.op_offset,
            reason,
        }
    }

    /// Reads exactly `n` bytes.
    pub(crate) fn read(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if let Some(f) = self.frame {
            if self.pos == f.end {
                // A used-up frame hands reads back to the unframed stream.
                if n != 0 {
                    self.frame = None;
                }
            } else if n > f.end - self.pos {
                return Err(self.bad_frame("a read runs past the end of its frame"));
            }
        }
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let out = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn read_u8(&mut self) -> Result<u8, Error> {
        let b = self.read(1)?;
        b.first().copied().ok_or_else(|| self.truncated())
    }

    pub(crate) fn read_array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let b = self.read(N)?;
        b.try_into().map_err(|_| self.truncated())
    }

    /// Reads a text argument up to its newline; the newline is consumed, not returned.
    pub(crate) fn read_line(&mut self) -> Result<&'a [u8], Error> {
        let (limit, framed) = match self.frame {
            Some(f) if self.pos < f.end => (f.end, true),
            Some(_) => {
                self.frame = None;
                (self.data.len(), false)
            }
            None => (self.data.len(), false),
        };
        let hay = self.data.get(self.pos..limit).unwrap_or_default();
        match hay.iter().position(|b| *b == b'\n') {
            Some(i) => {
                let line = hay.get(..i).unwrap_or_default();
                self.pos += i + 1;
                Ok(line)
            }
            None if framed => Err(self.bad_frame("a text argument runs past the end of its frame")),
            None => Err(self.truncated()),
        }
    }

    /// Starts a frame of `len` bytes at the current position (after FRAME and its length).
    pub(crate) fn begin_frame(&mut self, len_at: usize, len: u64) -> Result<Frame, Error> {
        if let Some(f) = self.frame
            && self.pos != f.end
        {
            return Err(self.bad_frame("a new frame starts before the current one ends"));
        }
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|e| *e <= self.data.len())
            .ok_or_else(|| self.bad_frame("the frame is longer than the remaining data"))?;
        let frame = Frame {
            len_at,
            start: self.pos,
            end,
        };
        self.frame = Some(frame);
        Ok(frame)
    }
}
