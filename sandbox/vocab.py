"""Small built-in word lists the portfolio generator draws realistic values from."""

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra",
    "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Joshua", "Donna", "Kevin",
    "Michelle", "Brian", "Carol", "Priya", "Amanda", "Wei", "Melissa", "Luis", "Deborah", "Ahmed",
    "Stephanie", "Jamal", "Rebecca", "Ryan", "Sharon", "Hiro", "Laura", "Noah", "Cynthia", "Olga",
    "Amy", "Mateo", "Angela",
)

LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Patel", "O'Brien", "Kowalski", "Okafor", "Tanaka", "Schmidt", "Rossi",
    "Dubois", "Silva", "Cohen", "Murphy",
)

STREETS = (
    "Oak", "Maple", "Cedar", "Pine", "Elm", "Willow", "Birch", "Aspen", "Magnolia", "Sycamore",
    "Hickory", "Chestnut", "Walnut", "Juniper", "Laurel", "Spruce", "Cypress", "Dogwood", "Hawthorn",
    "Poplar", "Lake", "Hill", "River", "Park", "Sunset", "Meadow", "Ridge", "Highland", "Valley",
    "Forest", "Washington", "Lincoln", "Jefferson", "Madison", "Franklin", "Jackson", "Main",
    "Church", "Mill", "Spring",
)

STREET_SUFFIXES = ("St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Ct", "Way", "Pl", "Ter")

CITIES = (
    ("Austin", "TX", "787"), ("Dallas", "TX", "752"), ("Houston", "TX", "770"),
    ("Phoenix", "AZ", "850"), ("Tucson", "AZ", "857"), ("Denver", "CO", "802"),
    ("Atlanta", "GA", "303"), ("Savannah", "GA", "314"), ("Charlotte", "NC", "282"),
    ("Raleigh", "NC", "276"), ("Nashville", "TN", "372"), ("Memphis", "TN", "381"),
    ("Orlando", "FL", "328"), ("Tampa", "FL", "336"), ("Jacksonville", "FL", "322"),
    ("Columbus", "OH", "432"), ("Cleveland", "OH", "441"), ("Indianapolis", "IN", "462"),
    ("Kansas City", "MO", "641"), ("St. Louis", "MO", "631"), ("Boise", "ID", "837"),
    ("Portland", "OR", "972"), ("Sacramento", "CA", "958"), ("Las Vegas", "NV", "891"),
    ("Salt Lake City", "UT", "841"),
)

APARTMENT_STYLES = ("Apartments", "Commons", "Court", "Gardens", "Lofts", "Place", "Residences", "Village")

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example")

STAFF_DOMAIN = "sandbox.example"

WORK_ORDER_CATEGORIES = {
    "Plumbing": ("Kitchen sink is leaking under the cabinet", "Toilet runs constantly",
                 "Low water pressure in the shower", "Water heater not producing hot water"),
    "Electrical": ("Outlet in the bedroom has no power", "Breaker keeps tripping",
                   "Hallway light fixture flickers"),
    "HVAC": ("AC is blowing warm air", "Furnace makes a loud noise at start-up",
             "Thermostat display is blank"),
    "Appliance": ("Dishwasher does not drain", "Refrigerator is not cooling",
                  "Dryer takes two cycles to dry", "Oven does not heat up"),
    "Pest Control": ("Ants in the kitchen", "Signs of mice in the garage"),
    "Locks & Keys": ("Front door lock is sticking", "Tenant locked out, needs rekey"),
    "Landscaping": ("Tree branch hanging over the driveway", "Sprinkler head broken"),
    "General Maintenance": ("Closet door came off its track", "Window screen torn",
                            "Smoke detector chirping", "Ceiling stain after heavy rain"),
}

WORK_ORDER_STATUSES = ("Open", "Open", "Assigned", "Scheduled", "In Progress", "Completed", "Closed", "Cancelled")
WORK_ORDER_TYPES = ("Service Request", "Service Request", "General", "Make Ready", "Preventive Maintenance", "Inspection")
WORK_ORDER_SOURCES = ("Tenant Portal", "Phone", "Email", "In Person", "Owner Portal")

VENDOR_TRADES = (
    ("Plumbing", "Plumbing"), ("Electric", "Electrician"), ("Heating & Air", "HVAC"),
    ("Appliance Repair", "Appliance"), ("Pest Solutions", "Pest Control"), ("Lock & Key", "Locksmith"),
    ("Lawn & Garden", "Landscaping"), ("Handyman Services", "General Contractor"),
    ("Roofing", "Roofing"), ("Painting", "Painting"), ("Cleaning Co.", "Cleaning"),
)

PAYMENT_TYPES = ("ECHECK", "ECHECK", "CHECK", "CREDIT_CARD", "MONEY_ORDER", "CASHIERS_CHECK", "EPAY")

TRUST_SUFFIXES = ("Family Trust", "Holdings LLC", "Properties LLC", "Investments", "Real Estate Group")
