"""Car listings for sale: a small rendered photo, the seller's form, and the asking price.

Each listing is drawn in three steps from one ``numpy.random.default_rng(seed)``:

1. the form - the high-level features a seller types in: make, model (which fixes the body:
   sedan, hatchback or SUV), age in years, odometer in km (about 15,000 km a year, more or
   less), and doors (4 for a sedan, 5 for an SUV, 3 or 5 for a hatchback);
2. the photo - the raw features, 32x32 RGB: a car of that body shape, in a paint colour, with
   0..4 rust spots (blemishes: 3x3 pixels each, never touching, so that they can be counted),
   placed at a jittered position, facing left or right, under random light, on a noisy
   background;
3. the price in thousands of dollars: the model's new price, times a depreciation per year,
   a discount for kilometres, a door premium, a paint premium or discount, a discount per
   blemish, and multiplicative noise.

So the price depends on both kinds of feature: the form carries most of it; the photo adds
the paint and the blemishes, which the form does not mention, and repeats the body shape,
which the form already says. Nothing here is global: every call takes its seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

SIZE = 32  # photos are SIZE x SIZE x 3

# (make, model, body, new price in $1000)
MODELS = (
    ("Toyota", "Yaris", "hatchback", 15.0), ("Toyota", "Corolla", "sedan", 20.0), ("Toyota", "RAV4", "suv", 28.0),
    ("Honda", "Jazz", "hatchback", 16.0), ("Honda", "Civic", "sedan", 22.0), ("Honda", "CR-V", "suv", 30.0),
    ("Nissan", "Micra", "hatchback", 13.0), ("Nissan", "Altima", "sedan", 19.0), ("Nissan", "Qashqai", "suv", 25.0),
    ("BMW", "1 Series", "hatchback", 27.0), ("BMW", "3 Series", "sedan", 38.0), ("BMW", "X5", "suv", 55.0),
)
MAKES = tuple(dict.fromkeys(m[0] for m in MODELS))
# (paint, RGB in [0, 1], price factor): buyers pay for some paints and avoid others
PAINTS = (
    ("white", (0.92, 0.92, 0.9), 1.0), ("black", (0.1, 0.1, 0.12), 1.05), ("silver", (0.7, 0.72, 0.75), 1.02),
    ("red", (0.8, 0.12, 0.1), 1.06), ("blue", (0.15, 0.3, 0.75), 0.98), ("green", (0.2, 0.55, 0.2), 0.88),
    ("yellow", (0.92, 0.8, 0.15), 0.85),
)
DEPRECIATION = 0.88  # price factor per year of age
KM_DISCOUNT = 0.5  # log-price lost per 200,000 km
BLEMISH_DISCOUNT = 0.07  # price factor lost per rust spot
NOISE = 0.06  # standard deviation of the log-price noise
RUST, RUST_SIZE = (0.6, 0.3, 0.05), 3  # a rust spot's colour and size in pixels
FORM_COLUMNS = (*(f"make={m}" for m in MAKES), *(f"model={m[1]}" for m in MODELS),
                "age_years/15", "odometer_km/200000", "doors/5")


@dataclasses.dataclass(frozen=True)
class Listings:
    photo: np.ndarray  # (N, 32, 32, 3) float32 in [0, 1]
    make: np.ndarray  # (N,) index into MAKES
    model: np.ndarray  # (N,) index into MODELS
    age: np.ndarray  # (N,) years, float
    odometer: np.ndarray  # (N,) km, float
    doors: np.ndarray  # (N,) 3, 4 or 5
    paint: np.ndarray  # (N,) index into PAINTS (visible in the photo only)
    blemishes: np.ndarray  # (N,) rust spots 0..4 (visible in the photo only)
    price: np.ndarray  # (N,) float32, thousands of dollars
    fair_price: np.ndarray  # (N,) float32, the price before the noise (what an oracle would say)

    def __len__(self) -> int:
        return len(self.price)

    def form(self) -> np.ndarray:
        """The seller's form as the float32 vector a network reads (columns: ``FORM_COLUMNS``)."""
        return np.concatenate([np.eye(len(MAKES), dtype=np.float32)[self.make],
                               np.eye(len(MODELS), dtype=np.float32)[self.model],
                               np.stack([self.age / 15, self.odometer / 200_000, self.doors / 5], 1)],
                              axis=1).astype(np.float32)


def listings(n: int, *, seed: int) -> Listings:
    """``n`` seeded car listings (the same seed gives the same listings)."""
    if not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"Invalid number of listings n={n!r}: expected a positive integer.")
    rng = np.random.default_rng(seed)
    model = rng.integers(len(MODELS), size=n)
    body = np.array([MODELS[m][2] for m in model])
    make = np.array([MAKES.index(MODELS[m][0]) for m in model])
    age = rng.uniform(0, 15, n)
    odometer = np.maximum(0, age * 15_000 * rng.lognormal(0, 0.35, n) + rng.normal(0, 3_000, n))
    doors = np.where(body == "sedan", 4, np.where(body == "suv", 5, rng.choice([3, 5], n)))
    paint = rng.integers(len(PAINTS), size=n)
    blemishes = np.minimum(rng.poisson(0.3 + age / 10), 4)  # older cars rust more
    log_fair = (np.log([MODELS[m][3] for m in model]) + age * np.log(DEPRECIATION)
                - KM_DISCOUNT * odometer / 200_000 + 0.04 * (doors == 5) + np.log([PAINTS[p][2] for p in paint])
                + blemishes * np.log(1 - BLEMISH_DISCOUNT))
    price = np.exp(log_fair + rng.normal(0, NOISE, n)).astype(np.float32)
    photo = np.stack([_draw(rng, body[i], PAINTS[paint[i]][1], blemishes[i]) for i in range(n)])
    return Listings(photo, make, model, age, odometer, doors, paint, blemishes, price,
                    np.exp(log_fair).astype(np.float32))


# --- the photo ---------------------------------------------------------------------------------

# Body outlines in a 32-pixel frame facing right: (lower body top, bottom, left, right),
# (cabin top, cabin left, cabin right at the roof line) in pixels.
_SHAPES = {
    "sedan": ((17, 24, 3, 29), (11, 9, 20)),
    "hatchback": ((16, 24, 6, 26), (10, 7, 19)),
    "suv": ((14, 24, 3, 29), (7, 5, 22)),
}


def _draw(rng: np.random.Generator, body: str, rgb, blemishes: int) -> np.ndarray:
    y, x = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    sky = np.array([0.55, 0.65, 0.8]) * rng.uniform(0.8, 1.1)
    ground = np.array([0.35, 0.35, 0.33]) * rng.uniform(0.8, 1.2)
    img = np.where((y < 22)[..., None], sky, ground) + rng.normal(0, 0.03, (SIZE, SIZE, 3))
    (top, bottom, left, right), (roof, c_left, c_right) = _SHAPES[body]
    dx, dy = rng.integers(-2, 3), rng.integers(-2, 2)
    x, y = x - dx, y - dy
    lower = (y >= top) & (y < bottom - 2) & (x >= left) & (x < right)
    slope = (y - roof) * 0.6  # windows slant out towards the lower body
    cabin = (y >= roof) & (y < top) & (x >= c_left - slope) & (x < c_right + slope)
    paint = np.asarray(rgb) * rng.uniform(0.85, 1.1)  # the light on the paint
    img[lower | cabin] = paint
    window = cabin & (y >= roof + 1) & (x >= c_left - slope + 1) & (x < c_right + slope - 1)
    img[window] = (0.6, 0.75, 0.85)
    for cx in (left + 5, right - 5):  # wheels
        img[np.hypot(x - cx, y - (bottom - 2)) < 3.0] = (0.08, 0.08, 0.08)
    # rust: 3x3 spots on the lower body, in separate slots so that every spot can be counted
    slots = np.arange(left + 1, right - RUST_SIZE, RUST_SIZE + 1)
    for x0 in rng.choice(slots, size=blemishes, replace=False):
        iy, ix = top + rng.integers(0, 3) + dy, x0 + dx
        img[iy:iy + RUST_SIZE, ix:ix + RUST_SIZE] = RUST
    if rng.random() < 0.5:
        img = img[:, ::-1]  # facing left
    img = img * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02, img.shape)  # exposure and sensor noise
    return np.clip(img, 0, 1).astype(np.float32)


def describe(cars: Listings, i: int) -> str:
    """One listing as a short caption."""
    make, model, _, _ = MODELS[cars.model[i]]
    return (f"{make} {model}, {cars.age[i]:.0f}y, {cars.odometer[i] / 1000:.0f}k km\n"
            f"{PAINTS[cars.paint[i]][0]}, {cars.blemishes[i]} rust: ${cars.price[i]:.1f}k")
