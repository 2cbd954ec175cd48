"""The demo shop's own catalog, "Trailhead & Hearth": outdoor gear, kitchen, home, electronics
and books. Product copy is composed from hand-written phrases per product type and product
line, so every item reads as real copy and items of one type differ in line, spec and features.
"""

from __future__ import annotations

from dataclasses import dataclass

LINES = {
    "Outdoor": [
        ("Ridgeline", "Built for long days above the tree line"),
        ("Cedar Hollow", "Made for relaxed weekends at the campsite"),
        ("Summit Pro", "Our lightest, most technical line for fast-and-light trips"),
        ("Riverbend", "Rugged, forgiving gear for family trips and first adventures"),
        ("Northwind", "Designed for cold, wet shoulder seasons"),
        ("Desert Sage", "Tuned for heat, sun and dusty trails"),
        ("Alpine Lark", "A compact line for alpine starts and small packs"),
        ("Basecamp", "Roomy, durable gear that lives in the car boot"),
    ],
    "Kitchen": [
        ("Hearthstone", "Heirloom-grade kitchenware from our flagship line"),
        ("Copperleaf", "Warm finishes and classic shapes for the open kitchen"),
        ("Everyday", "Honest, dependable tools for busy weeknights"),
        ("Chef's Table", "Professional weights and balances for serious cooks"),
        ("Nordic Oak", "Pale wood, matte glazes and clean Scandinavian lines"),
        ("Little Kitchen", "Space-saving pieces for small flats and first homes"),
        ("Bistro", "Café-style pieces that go from stove to table"),
        ("Harvest", "Generous sizes for batch cooking and big families"),
    ],
    "Home": [
        ("Linen Lane", "Relaxed natural fibres that soften with every wash"),
        ("Moorland", "Heathered tones and cosy textures for cooler months"),
        ("Studio", "Minimal shapes for modern, uncluttered rooms"),
        ("Coastal", "Airy colours and light weaves for sunny homes"),
        ("Heritage", "Traditional patterns, made to last for decades"),
        ("Meadow", "Soft botanical colours and organic cotton"),
        ("Urban Loft", "Industrial details with warm finishes"),
        ("Cloudnine", "Our softest, plushest comfort collection"),
    ],
    "Electronics": [
        ("Pulse", "Everyday tech with long battery life and simple controls"),
        ("Aero", "Thin, light and made for travel"),
        ("Volt Pro", "Our performance line with premium materials"),
        ("Echo", "Audio-first design with balanced, natural sound"),
        ("Orbit", "Smart features that work across all your devices"),
        ("Trek", "Weather-sealed and drop-tested for the outdoors"),
        ("Nimbus", "Quiet, understated design for the home office"),
        ("Spark", "Great value essentials without compromise"),
    ],
}


@dataclass(frozen=True)
class ProductType:
    category: str
    name: str
    tags: tuple[str, ...]
    price: float
    intro: str
    specs: tuple[tuple[str, str], ...]
    features: tuple[str, ...]
    care: str


T = ProductType
TYPES: list[ProductType] = [
    # -- Outdoor ------------------------------------------------------------------------------
    T(
        "Outdoor",
        "Backpacking Tent",
        ("camping", "tent", "shelter"),
        289,
        "a freestanding backpacking tent that pitches in minutes",
        (
            ("1-Person", "Sleeps one with room for gear"),
            ("2-Person", "Sleeps two on standard pads"),
            ("3-Person", "Sleeps three or two with a dog"),
        ),
        (
            "Colour-coded clips and a single hubbed pole make pitching easy, even in the dark.",
            "Two doors and two vestibules mean nobody climbs over anyone at 3 a.m.",
            "The 20D ripstop fly is silicone-coated and shrugs off steady rain.",
            "Mesh inner walls cut condensation on warm, still nights.",
            "Packs into a compression sack the size of a water bottle.",
        ),
        "Seam-sealed at the factory; dry it fully before storing.",
    ),
    T(
        "Outdoor",
        "Sleeping Bag",
        ("camping", "sleeping bag", "sleep system"),
        179,
        "a mummy sleeping bag that keeps its loft night after night",
        (
            ("-5°C", "Comfort rated to -5°C"),
            ("0°C", "Comfort rated to 0°C"),
            ("+7°C", "Comfort rated to 7°C for summer nights"),
        ),
        (
            "Responsibly sourced 650-fill down compresses small and lofts fast.",
            "A contoured hood and draft collar seal in warmth on cold nights.",
            "The anti-snag zip runs full length so it opens into a quilt.",
            "Water-resistant shell fabric protects the insulation from tent condensation.",
            "Comes with a breathable storage sack and a compression stuff sack.",
        ),
        "Wash with down soap and tumble dry low with clean tennis balls.",
    ),
    T(
        "Outdoor",
        "Sleeping Pad",
        ("camping", "sleeping pad", "sleep system"),
        119,
        "an insulated air pad for warm, comfortable sleep on hard ground",
        (("Regular", "183 cm long and 51 cm wide"), ("Long Wide", "196 cm long and 64 cm wide")),
        (
            "Baffled chambers keep you centred and stop the roll-off feeling.",
            "A reflective inner layer gives an R-value of 4.2 for three-season use.",
            "The flat valve inflates in about ten breaths and deflates in seconds.",
            "Quiet fabric that does not crinkle every time you turn over.",
            "Includes a pump sack that doubles as a dry bag.",
        ),
        "Repair kit included; store unrolled with the valve open.",
    ),
    T(
        "Outdoor",
        "Hiking Backpack",
        ("hiking", "backpack", "pack"),
        159,
        "a ventilated hiking pack that carries heavy loads comfortably",
        (
            ("28L", "28 litres for long day hikes"),
            ("45L", "45 litres for overnight trips"),
            ("65L", "65 litres for week-long treks"),
        ),
        (
            "An adjustable torso length lets you dial in the fit in minutes.",
            "The suspended mesh back panel keeps air moving behind you.",
            "Hip-belt pockets hold a phone, snacks and a map within reach.",
            "An integrated rain cover tucks into its own base pocket.",
            "Hydration sleeve and hose port for a 3-litre reservoir.",
        ),
        "Wipe clean with a damp cloth; air dry out of direct sun.",
    ),
    T(
        "Outdoor",
        "Headlamp",
        ("hiking", "headlamp", "lighting"),
        39,
        "a rechargeable headlamp with a bright spot and a wide flood beam",
        (("350 Lumen", "350 lumens maximum"), ("600 Lumen", "600 lumens maximum")),
        (
            "Red night mode protects your night vision around camp.",
            "A lock-out mode stops it switching on in your pack.",
            "USB-C charging with a battery level indicator.",
            "IPX6 rated against heavy rain.",
            "The tilting lamp head points light exactly where you walk.",
        ),
        "Charge fully before a trip and every three months in storage.",
    ),
    T(
        "Outdoor",
        "Water Filter",
        ("hiking", "water filter", "hydration"),
        45,
        "a squeeze water filter for safe drinking water from streams and lakes",
        (("Squeeze", "With two 1-litre soft flasks"), ("Gravity 4L", "With a 4-litre gravity bag")),
        (
            "The hollow-fibre membrane removes 99.99% of bacteria and protozoa.",
            "Filters a litre in about a minute with gentle squeezing.",
            "Screws onto standard bottle threads and inline on hydration hoses.",
            "Backflush syringe included to restore flow on long trips.",
            "Weighs less than a chocolate bar.",
        ),
        "Do not let the filter freeze once wet; sleep with it in cold weather.",
    ),
    T(
        "Outdoor",
        "Trekking Poles",
        ("hiking", "trekking poles"),
        79,
        "a pair of adjustable trekking poles that save your knees on descents",
        (("Aluminium", "7075 aluminium shafts"), ("Carbon", "Carbon-fibre shafts, 210 g each")),
        (
            "Flick locks hold firm and adjust with gloves on.",
            "Cork grips mould to your hands and wick sweat.",
            "An extended foam grip lets you choke down on steep traverses.",
            "Carbide tips bite on rock and ice; rubber feet included for pavement.",
            "They collapse to 62 cm and strap neatly to a pack.",
        ),
        "Dry the sections apart after wet days to keep the locks smooth.",
    ),
    T(
        "Outdoor",
        "Rain Jacket",
        ("hiking", "rain jacket", "clothing"),
        199,
        "a waterproof, breathable shell for wet and windy days",
        (
            ("Men's", "Men's regular fit"),
            ("Women's", "Women's tailored fit"),
            ("Unisex", "Unisex relaxed fit"),
        ),
        (
            "A 3-layer membrane keeps rain out and lets sweat escape on climbs.",
            "Pit zips dump heat fast without taking the jacket off.",
            "The helmet-compatible hood adjusts with one pull.",
            "Fully taped seams and water-resistant zips.",
            "Packs into its own chest pocket.",
        ),
        "Wash and tumble dry warm to reactivate the water-repellent finish.",
    ),
    # -- Kitchen ------------------------------------------------------------------------------
    T(
        "Kitchen",
        "Chef's Knife",
        ("knives", "cutlery", "prep"),
        89,
        "a balanced chef's knife for everyday slicing, dicing and chopping",
        (("20 cm", "A 20 cm blade"), ("16 cm", "A nimble 16 cm blade")),
        (
            "Forged from German stainless steel and hardened to 58 HRC.",
            "A full tang and bolster give it a reassuring balance point.",
            "The gently curved edge rocks smoothly through herbs.",
            "A riveted handle that stays grippy when wet.",
            "Hand-sharpened to a 15-degree edge.",
        ),
        "Hand wash and dry straight away; hone before each use.",
    ),
    T(
        "Kitchen",
        "Cutting Board",
        ("prep", "cutting board", "wood"),
        49,
        "an end-grain cutting board that is kind to your knife edges",
        (("Large", "45 x 30 cm"), ("Medium", "35 x 25 cm")),
        (
            "End-grain construction lets blades slip between the fibres.",
            "A deep juice groove catches runoff from roasts.",
            "Rubber feet keep it from sliding on the worktop.",
            "Reversible: one side for carving, one for prep.",
            "Finished with food-safe mineral oil and beeswax.",
        ),
        "Hand wash; oil monthly to keep it from drying out.",
    ),
    T(
        "Kitchen",
        "Knife Sharpener",
        ("knives", "sharpener"),
        35,
        "a two-stage sharpener that brings dull knives back to life",
        (("Manual", "A manual pull-through design"), ("Whetstone", "A 1000/6000 grit whetstone")),
        (
            "The coarse stage sets the edge and the fine stage polishes it.",
            "Angle guides keep a consistent bevel for beginners.",
            "Non-slip base keeps your hand clear of the blade.",
            "Works on Western and Japanese kitchen knives.",
            "Takes a minute to restore a weekly-use knife.",
        ),
        "Brush out metal filings after use; keep the stone wet while sharpening.",
    ),
    T(
        "Kitchen",
        "Cast Iron Skillet",
        ("cookware", "cast iron", "skillet"),
        59,
        "a pre-seasoned cast iron skillet that sears, bakes and lasts generations",
        (("26 cm", "26 cm across"), ("30 cm", "30 cm across")),
        (
            "Holds heat evenly for a deep, restaurant-style sear.",
            "Goes from hob to oven to campfire without a second thought.",
            "Pre-seasoned with vegetable oil and ready to cook on.",
            "Two pouring spouts and a helper handle for heavy lifts.",
            "Gets more non-stick with every use.",
        ),
        "Rinse, dry on the hob and wipe with a little oil.",
    ),
    T(
        "Kitchen",
        "Dutch Oven",
        ("cookware", "cast iron", "casserole"),
        149,
        "an enamelled cast iron Dutch oven for braises, stews and bread",
        (("4.7 L", "A 4.7-litre round pot"), ("6.7 L", "A 6.7-litre oval pot")),
        (
            "The tight-fitting lid bastes food with its own steam.",
            "Enamel interior needs no seasoning and will not react with tomatoes or wine.",
            "Oven-safe to 250°C for crusty no-knead loaves.",
            "Wide loop handles are easy to grip with oven gloves.",
            "Works on every hob, including induction.",
        ),
        "Dishwasher safe, though hand washing keeps the enamel glossy.",
    ),
    T(
        "Kitchen",
        "Oven Gloves",
        ("textiles", "oven gloves", "baking"),
        19,
        "heat-resistant oven gloves for hot pans and baking trays",
        (("Double", "A double glove joined at the middle"), ("Pair", "A pair of long gauntlets")),
        (
            "Silicone grip pattern holds hot cast iron securely.",
            "Heat resistant to 250°C.",
            "Quilted cotton lining stays cool to the touch.",
            "Long cuffs protect forearms reaching into the oven.",
            "A hanging loop keeps them close to the hob.",
        ),
        "Machine wash at 40°C.",
    ),
    T(
        "Kitchen",
        "Coffee Grinder",
        ("coffee", "grinder"),
        129,
        "a burr coffee grinder for a consistent grind from espresso to cafetière",
        (("Electric", "An electric conical burr grinder"), ("Hand", "A hand grinder with a crank")),
        (
            "Conical steel burrs give an even grind with little dust.",
            "Forty grind settings from fine espresso to coarse cold brew.",
            "Grinds straight into your portafilter or an anti-static cup.",
            "Slow burr speed keeps beans cool and flavours intact.",
            "Takes the burr out for cleaning without tools.",
        ),
        "Brush the burrs weekly; never wash them with water.",
    ),
    T(
        "Kitchen",
        "Pour-Over Kettle",
        ("coffee", "kettle", "tea"),
        69,
        "a gooseneck kettle for precise pour-over coffee and tea",
        (
            ("Stovetop", "A stovetop kettle"),
            ("Electric", "An electric kettle with temperature control"),
        ),
        (
            "The gooseneck spout gives a slow, steady, controllable pour.",
            "Built-in thermometer shows the brewing temperature.",
            "Holds 1 litre, enough for four cups.",
            "Brushed stainless steel that will not hold odours.",
            "The handle stays cool while the water boils.",
        ),
        "Descale monthly with citric acid in hard-water areas.",
    ),
    # -- Home ---------------------------------------------------------------------------------
    T(
        "Home",
        "Bed Sheet Set",
        ("bedroom", "bedding", "sheets"),
        89,
        "a bed sheet set with a fitted sheet, flat sheet and two pillowcases",
        (
            ("Double", "Fits double mattresses"),
            ("King", "Fits king mattresses"),
            ("Single", "Fits single mattresses"),
        ),
        (
            "Long-staple cotton percale feels crisp and cool.",
            "Deep-pocket fitted sheet holds mattresses up to 35 cm.",
            "Oeko-Tex certified, free from harmful substances.",
            "Pre-washed for a soft, lived-in feel from the first night.",
            "Envelope-closure pillowcases keep pillows tucked in.",
        ),
        "Machine wash at 40°C; line dry for the crispest finish.",
    ),
    T(
        "Home",
        "Duvet",
        ("bedroom", "bedding", "duvet"),
        129,
        "a breathable duvet that keeps you comfortable all night",
        (
            ("4.5 tog", "4.5 tog for summer"),
            ("10.5 tog", "10.5 tog for all seasons"),
            ("13.5 tog", "13.5 tog for winter"),
        ),
        (
            "Box-stitched channels keep the filling evenly spread.",
            "Cotton cover breathes so you do not overheat.",
            "Hypoallergenic filling suits allergy sufferers.",
            "Corner loops tie to your duvet cover so it never bunches.",
            "Generously sized to drape over the sides of the bed.",
        ),
        "Machine washable at 60°C in a large-capacity machine.",
    ),
    T(
        "Home",
        "Pillow",
        ("bedroom", "bedding", "pillow"),
        39,
        "a supportive pillow for side, back and front sleepers",
        (("Soft", "Soft support"), ("Medium", "Medium support"), ("Firm", "Firm support")),
        (
            "Adjustable fill: add or remove clusters to set the height.",
            "A breathable cotton cover with a zip.",
            "Springs back into shape after a shake.",
            "Cool to the touch for warm sleepers.",
            "Vacuum packed; give it a day to fully expand.",
        ),
        "Wash the cover at 40°C; air the pillow weekly.",
    ),
    T(
        "Home",
        "Throw Blanket",
        ("living room", "throw", "textiles"),
        59,
        "a generous throw blanket for the sofa or the end of the bed",
        (("Wool", "Lambswool"), ("Cotton", "Chunky cotton knit"), ("Fleece", "Recycled fleece")),
        (
            "Large enough to wrap two people on the sofa.",
            "Fringed edges hand-finished by our weavers.",
            "Naturally temperature regulating and soft against the skin.",
            "Adds texture and colour to neutral rooms.",
            "Arrives gift-wrapped in a cotton bag.",
        ),
        "Hand wash cool or dry clean.",
    ),
    T(
        "Home",
        "Floor Lamp",
        ("living room", "lighting", "lamp"),
        139,
        "a floor lamp that casts a warm, even glow for reading",
        (
            ("Arc", "An arched design"),
            ("Tripod", "A tripod design"),
            ("Slim", "A slim column design"),
        ),
        (
            "The linen shade diffuses light without glare.",
            "A foot switch works without bending down.",
            "Takes an E27 bulb; warm LED bulb included.",
            "Weighted base keeps it steady on rugs.",
            "Solid oak details and a powder-coated frame.",
        ),
        "Dust the shade with a soft brush.",
    ),
    T(
        "Home",
        "Area Rug",
        ("living room", "rug", "textiles"),
        179,
        "a hard-wearing area rug that warms up floors and softens footsteps",
        (
            ("160 x 230 cm", "160 x 230 cm"),
            ("120 x 170 cm", "120 x 170 cm"),
            ("Runner 70 x 240 cm", "A 70 x 240 cm runner"),
        ),
        (
            "Hand-woven from New Zealand wool.",
            "Low pile that doors glide over.",
            "Naturally stain resistant and easy to spot clean.",
            "Reversible flat weave doubles its lifespan.",
            "Pair with a non-slip underlay on hard floors.",
        ),
        "Vacuum without the beater bar; rotate twice a year.",
    ),
    T(
        "Home",
        "Bath Towel Set",
        ("bathroom", "towels", "textiles"),
        49,
        "a towel set with two bath towels, two hand towels and two flannels",
        (("White", "In white"), ("Sage", "In sage green"), ("Charcoal", "In charcoal")),
        (
            "Heavy 600 gsm zero-twist cotton for a plush, absorbent feel.",
            "Gets softer and fluffier with each wash.",
            "Double-stitched hems that do not fray.",
            "Quick-drying, so it never smells musty.",
            "Hanging loops on every towel.",
        ),
        "Wash at 40°C without fabric softener to keep them absorbent.",
    ),
    T(
        "Home",
        "Scented Candle",
        ("living room", "candle", "fragrance"),
        24,
        "a hand-poured soy wax candle with a clean, long burn",
        (
            ("Cedar & Smoke", "Cedar and smoke"),
            ("Fig & Linen", "Fig and fresh linen"),
            ("Sea Salt", "Sea salt and driftwood"),
        ),
        (
            "Burns for up to 45 hours.",
            "Cotton wick for a clean flame with no black soot.",
            "Fragrance oils free from phthalates.",
            "Poured into a reusable glass tumbler.",
            "Fills a living room without overwhelming it.",
        ),
        "Trim the wick to 5 mm before every burn.",
    ),
    # -- Electronics --------------------------------------------------------------------------
    T(
        "Electronics",
        "Wireless Headphones",
        ("audio", "headphones", "bluetooth"),
        199,
        "over-ear wireless headphones with active noise cancelling",
        (("Black", "In black"), ("Sand", "In sand"), ("Navy", "In navy")),
        (
            "Adaptive noise cancelling quietens trains, planes and open offices.",
            "Up to 40 hours of playback on a charge.",
            "Ten minutes of charging gives five hours of listening.",
            "Memory foam ear cushions for all-day comfort.",
            "Multipoint Bluetooth connects to your phone and laptop at once.",
        ),
        "Store in the hard case; charge with the USB-C cable included.",
    ),
    T(
        "Electronics",
        "Portable Speaker",
        ("audio", "speaker", "bluetooth"),
        89,
        "a portable Bluetooth speaker with big, room-filling sound",
        (("Mini", "Pocket size"), ("Max", "Party size with a carry strap")),
        (
            "IP67 waterproof and dustproof: take it to the beach or the shower.",
            "Twelve hours of battery life.",
            "Pair two speakers for true stereo.",
            "A built-in microphone for hands-free calls.",
            "Rugged fabric wrap survives drops and bumps.",
        ),
        "Rinse with fresh water after the beach and let it dry.",
    ),
    T(
        "Electronics",
        "Laptop Stand",
        ("home office", "laptop stand", "ergonomics"),
        49,
        "an adjustable laptop stand that lifts your screen to eye level",
        (("Aluminium", "Aluminium"), ("Folding", "Folding, travel-size")),
        (
            "Six height settings from 5 to 18 cm.",
            "Open design lets the laptop breathe and stay cool.",
            "Silicone pads protect your laptop and desk.",
            "Fits laptops from 10 to 17 inches.",
            "Helps you sit up straighter through long working days.",
        ),
        "Wipe with a dry cloth.",
    ),
    T(
        "Electronics",
        "Wireless Keyboard",
        ("home office", "keyboard", "bluetooth"),
        79,
        "a quiet wireless keyboard for comfortable all-day typing",
        (("Full-size", "Full-size with a number pad"), ("Compact", "Compact 75% layout")),
        (
            "Low-profile keys with a soft, quiet action.",
            "Switch between three devices with one key.",
            "Backlit keys adjust to the room's light.",
            "Rechargeable battery lasts up to two months.",
            "Works with Windows, macOS, iPadOS and Android.",
        ),
        "Clean with a soft brush and slightly damp cloth.",
    ),
    T(
        "Electronics",
        "Wireless Mouse",
        ("home office", "mouse", "bluetooth"),
        49,
        "an ergonomic wireless mouse with a precise, silent click",
        (("Ergonomic", "Sculpted ergonomic shape"), ("Travel", "Slim travel shape")),
        (
            "A 4000 DPI sensor tracks on glass and glossy desks.",
            "Silent clicks for libraries and shared offices.",
            "A free-spinning scroll wheel for long documents.",
            "Connects by Bluetooth or the USB receiver.",
            "Three months of use per charge.",
        ),
        "Charge over USB-C; it works while charging.",
    ),
    T(
        "Electronics",
        "Power Bank",
        ("charging", "power bank", "travel"),
        59,
        "a high-capacity power bank that charges a phone several times over",
        (("10000 mAh", "10,000 mAh"), ("20000 mAh", "20,000 mAh")),
        (
            "65 W USB-C power delivery charges laptops as well as phones.",
            "Charges three devices at once.",
            "A digital display shows the exact charge left.",
            "Airline-safe capacity for carry-on bags.",
            "Recharges itself in under three hours.",
        ),
        "Store at half charge if you will not use it for months.",
    ),
    T(
        "Electronics",
        "Charging Cable",
        ("charging", "cable", "usb-c"),
        19,
        "a braided USB-C charging cable that survives daily use",
        (("1 m", "1 metre"), ("2 m", "2 metres")),
        (
            "Nylon braiding tested to 30,000 bends.",
            "Supports 100 W fast charging and 480 Mbps data.",
            "Aluminium connector housings with strain relief.",
            "A Velcro tie keeps it tidy in your bag.",
            "Works with phones, tablets and laptops with USB-C.",
        ),
        "Unplug by the connector, not the cable.",
    ),
    T(
        "Electronics",
        "Action Camera",
        ("camera", "action camera", "outdoor"),
        249,
        "a rugged action camera for hikes, rides and dives",
        (("4K", "4K at 60 frames per second"), ("5K", "5.3K at 60 frames per second")),
        (
            "Horizon levelling keeps footage straight on rough trails.",
            "Waterproof to 10 metres without a housing.",
            "Front and rear screens make framing selfies easy.",
            "Voice control for hands-free recording.",
            "Ships with a helmet mount and a chest harness.",
        ),
        "Rinse after salt water; keep the lens cover on in your bag.",
    ),
    # -- Books --------------------------------------------------------------------------------
    T(
        "Books",
        "Trail Guide",
        ("books", "hiking", "guidebook"),
        22,
        "a walking and hiking guidebook with detailed routes and maps",
        (
            ("Lake District", "Covering the Lake District"),
            ("Scottish Highlands", "Covering the Scottish Highlands"),
            ("Alps", "Covering the Alps' classic huts"),
        ),
        (
            "Forty graded routes from gentle valley walks to airy ridges.",
            "Ordnance-style maps and elevation profiles for every walk.",
            "Notes on wild camping, water sources and escape routes.",
            "Written by a mountain leader with thirty years' experience.",
            "A waterproof cover that survives a soaking.",
        ),
        "Paperback, 288 pages.",
    ),
    T(
        "Books",
        "Cookbook",
        ("books", "cooking", "recipes"),
        28,
        "a cookbook of reliable recipes for everyday cooking",
        (
            ("One-Pot", "One-pot and one-pan dinners"),
            ("Baking", "Bread, cakes and bakes"),
            ("Campfire", "Cooking outdoors over fire"),
        ),
        (
            "One hundred recipes, each tested three times in a home kitchen.",
            "Full-page photographs of every dish.",
            "Notes on swaps for vegetarian and dairy-free cooks.",
            "Lay-flat binding that stays open on the worktop.",
            "A chapter on stocking a sensible pantry.",
        ),
        "Hardback, 320 pages.",
    ),
    T(
        "Books",
        "Mystery Novel",
        ("books", "fiction", "mystery"),
        14,
        "a gripping mystery novel with a twist you will not see coming",
        (
            ("Lighthouse", "Set in a storm-bound lighthouse"),
            ("Village", "Set in a quiet English village"),
            ("Express", "Set aboard a night train across Europe"),
        ),
        (
            "A detective with a past she would rather forget.",
            "Short chapters that make it impossible to put down.",
            "Fair-play clues hidden in plain sight.",
            "Praised by readers of classic golden-age crime.",
            "The first in a series; the sequel is already out.",
        ),
        "Paperback, 384 pages.",
    ),
    T(
        "Books",
        "Science Fiction Novel",
        ("books", "fiction", "science fiction"),
        15,
        "a thoughtful science fiction novel about people far from home",
        (
            ("Generation Ship", "Aboard a generation ship"),
            ("Red Planet", "On the first Mars settlement"),
            ("First Contact", "At the moment of first contact"),
        ),
        (
            "Big ideas grounded in characters you care about.",
            "Hard-science details that never slow the story down.",
            "Winner of a readers' choice award.",
            "A standalone story with a satisfying ending.",
            "Includes a map and a glossary.",
        ),
        "Paperback, 416 pages.",
    ),
    T(
        "Books",
        "Gardening Handbook",
        ("books", "gardening", "home"),
        20,
        "a practical gardening handbook for small gardens and balconies",
        (
            ("Vegetables", "Growing vegetables"),
            ("Houseplants", "Caring for houseplants"),
            ("Wildlife", "Gardening for wildlife"),
        ),
        (
            "Month-by-month jobs so you always know what to do next.",
            "Clear illustrations of sowing, pruning and potting on.",
            "Advice for containers, raised beds and shady corners.",
            "Written for beginners, useful for old hands.",
            "A troubleshooting chapter for pests and diseases.",
        ),
        "Paperback, 256 pages.",
    ),
    T(
        "Books",
        "Photography Guide",
        ("books", "photography", "camera"),
        24,
        "a photography guide that helps you take better pictures with any camera",
        (("Landscape", "Landscape photography"), ("Travel", "Travel photography")),
        (
            "Explains exposure, light and composition without jargon.",
            "Before-and-after examples on every spread.",
            "Assignments at the end of each chapter.",
            "Editing tips for phone and desktop apps.",
            "Works for phones, action cameras and mirrorless cameras alike.",
        ),
        "Paperback, 240 pages.",
    ),
]

# Product types shoppers tend to buy together (the demo's simulated missions).
MISSIONS: list[tuple[str, ...]] = [
    ("Backpacking Tent", "Sleeping Bag", "Sleeping Pad", "Headlamp"),
    ("Hiking Backpack", "Water Filter", "Trekking Poles", "Trail Guide"),
    ("Rain Jacket", "Hiking Backpack", "Headlamp"),
    ("Chef's Knife", "Cutting Board", "Knife Sharpener"),
    ("Cast Iron Skillet", "Dutch Oven", "Oven Gloves", "Cookbook"),
    ("Coffee Grinder", "Pour-Over Kettle"),
    ("Bed Sheet Set", "Duvet", "Pillow"),
    ("Floor Lamp", "Area Rug", "Throw Blanket", "Scented Candle"),
    ("Bath Towel Set", "Scented Candle"),
    ("Wireless Headphones", "Portable Speaker", "Charging Cable"),
    ("Laptop Stand", "Wireless Keyboard", "Wireless Mouse"),
    ("Action Camera", "Power Bank", "Photography Guide"),
    ("Mystery Novel", "Science Fiction Novel"),
    ("Gardening Handbook", "Cookbook"),
]

BOOK_LINES = [
    ("Ember Press", "From an independent publisher known for careful editions"),
    ("Northlight Books", "Beautifully designed and printed on recycled paper"),
    ("Wayfarer", "From our own imprint of practical books"),
    ("Quillstone", "A handsome edition with a ribbon marker"),
    ("Paper Lantern", "Part of a much-loved paperback series"),
    ("Greenway", "Printed in the UK on FSC-certified paper"),
    ("Atlas & Oak", "A collectable edition with illustrated endpapers"),
    ("Halfmoon", "A compact edition that slips into a jacket pocket"),
]


def catalog_rows() -> list[dict[str, object]]:
    """Every demo item as an import row (sku, title, description, tags, category, price, stock)."""
    rows: list[dict[str, object]] = []
    for t_index, kind in enumerate(TYPES):
        lines = BOOK_LINES if kind.category == "Books" else LINES[kind.category]
        for k, (line, line_sentence) in enumerate(lines):
            spec_title, spec_sentence = kind.specs[k % len(kind.specs)]
            picks = [kind.features[(k + j * 2) % len(kind.features)] for j in range(3)]
            picks = list(dict.fromkeys(picks))
            if kind.category == "Books":
                title = f"{spec_title}: {kind.name} ({line})"
            else:
                title = f"{line} {spec_title} {kind.name}"
            description = (
                f"{kind.intro[0].upper()}{kind.intro[1:]}. {spec_sentence}. "
                f"{line_sentence}.\n\n" + " ".join(picks) + f"\n\n{kind.care}"
            )
            price = round(kind.price * (0.8 + 0.08 * ((k * 7 + t_index) % 6)), 0) - 0.01
            rows.append(
                {
                    "sku": f"TH-{t_index:02d}{k:02d}",
                    "title": title,
                    "description": description,
                    "tags": [*list(kind.tags), line.lower()],
                    "category": kind.category,
                    "price": f"{price:.2f}",
                    "stock": 0 if (t_index * 8 + k) % 37 == 5 else 5 + (t_index * 3 + k * 5) % 40,
                    "active": True,
                }
            )
    return rows


def type_of_sku(rows: list[dict[str, object]]) -> dict[str, str]:
    return {str(r["sku"]): TYPES[int(str(r["sku"])[3:5])].name for r in rows}
