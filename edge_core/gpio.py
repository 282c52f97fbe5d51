"""GPIO (gpiozero, optional): the panic push button, debounced, and the LED that lights while a camera is live."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from edge_core.config import GpioConfig

log = logging.getLogger(__name__)


class PressFilter:
    """Accepts a press only if at least `min_interval_s` passed since the last accepted one."""

    def __init__(self, min_interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()

    def accept(self) -> bool:
        """True for a press that counts, False for a bounce or a repeat too soon after the last."""
        with self._lock:
            now = self._clock()
            if self._last is not None and now - self._last < self.min_interval_s:
                return False
            self._last = now
            return True


def start_button(config: GpioConfig, on_press: Callable[[], None], loop: asyncio.AbstractEventLoop) -> Any | None:
    """Watch the button; `on_press` runs on the event loop. Returns the gpiozero Button, or None if unavailable."""
    try:
        from gpiozero import Button
    except ImportError:
        log.error("panic.gpio is configured but gpiozero is not installed (pip install 'lookout[gpio]')")
        return None
    presses = PressFilter(config.min_interval_s)

    def pressed() -> None:  # runs on a gpiozero thread
        if presses.accept():
            loop.call_soon_threadsafe(on_press)
        else:
            log.info("GPIO press ignored (within %.1fs of the last one)", config.min_interval_s)

    try:
        button = Button(config.pin, pull_up=config.pull_up, bounce_time=config.bounce_time_s)
    except Exception as exc:
        log.error("GPIO button on pin %d unavailable: %s", config.pin, exc)
        return None
    button.when_pressed = pressed
    log.info("GPIO panic button on pin %d", config.pin)
    return button


def start_led(pin: int) -> Any | None:
    """The "camera shared live" LED on a GPIO pin (BCM), off at start; None if unavailable."""
    try:
        from gpiozero import LED
    except ImportError:
        log.error("live.led_pin is configured but gpiozero is not installed (pip install 'lookout[gpio]')")
        return None
    try:
        led = LED(pin)
    except Exception as exc:
        log.error("live LED on pin %d unavailable: %s", pin, exc)
        return None
    led.off()
    log.info("live LED on pin %d", pin)
    return led
