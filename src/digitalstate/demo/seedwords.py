"""Word lists for synthetic people: names, streets, towns with their postcode areas, vehicles.

Names are common in the UK across its communities; no list pairs names with real people.
Towns carry a postcode area that really serves them, so that the postcodes made look right
and pass the register's postcode check; the rest of each postcode is made up.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FEMALE_NAMES: tuple[str, ...] = _words(
    """
    Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Florence Willow
    Evie Ella Poppy Emily Charlotte Sienna Aisha Fatima Maryam Zara Priya Ananya Niamh
    Siobhan Catrin Eilidh Morag Rhiannon Megan Chloe Hannah Sarah Rebecca Laura Rachel
    Claire Helen Susan Margaret Patricia Elizabeth Joan Dorothy Janet Agnieszka Oluwaseun
    Chiamaka Mei Yasmin Sofia Nia Bethan Ffion Kirsty Jasmine Imogen
    """
)

MALE_NAMES: tuple[str, ...] = _words(
    """
    Muhammad Noah Oliver George Leo Arthur Oscar Harry Theodore Jack Henry Charlie Freddie
    Alfie Thomas James William Jacob Samuel Joshua Daniel David Michael Christopher Andrew
    Paul Mark Richard Robert John Peter Stephen Ian Gareth Dylan Rhys Owain Callum Euan
    Hamish Ciaran Sean Patrick Arjun Rohan Ibrahim Yusuf Omar Kwame Chidi Tomasz Piotr Wei
    Hassan Kofi Aled Iwan Fraser Lewis Ryan
    """
)

FAMILY_NAMES: tuple[str, ...] = _words(
    """
    Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson
    Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson
    Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan
    Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell
    Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan
    Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb
    Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes
    Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham
    Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds
    Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson Bradley Spencer
    Gill Dawson Ball Burton O'Brien Watts Rose Booth Perry Ryan Grant Wells Armstrong
    Francis Rees Hayes Hart Hudson Newman Barrett Webster Hunter Gregory Carr Lowe Page
    Marsh Riley Dunn Woods Parsons Berry Stone Reid Holland Hawkins Harding Porter Robertson
    Newton Oliver Reed Kennedy Williamson Bird Gardner Shah Dodd Macdonald McLeod Nowak
    Kowalski Okafor Adeyemi Mensah Chen Nguyen Sharma Chowdhury Begum-Rahman Fraser
    Sutherland Llewellyn Pritchard
    """
)

STREET_WORDS: tuple[str, ...] = _words(
    """
    High Station Church Mill Park Victoria Albert Queen King York Manor Chapel Orchard
    Meadow Bridge Castle Green Windsor Grange Springfield Cedar Willow Beech Elm Oak Ash
    Hawthorn Rowan Heather Forest Riverside Mount Hill Brook Thornton Ashford Richmond
    Nelson Stanley Cromwell Milton Shakespeare Wellington Clarence Alexandra Market School
    Lime Chestnut Sycamore Hazel Poplar Laburnum Maple Juniper Primrose Bluebell Foxglove
    Kestrel Heron Lark Wren Ferry Quarry Colliery Harbour Abbey
    """
)

STREET_KINDS: tuple[str, ...] = _words(
    """
    Street Road Lane Avenue Close Drive Way Crescent Gardens Terrace Place Grove Court Row
    Walk View
    """
)

# (town, postcode area, nation). The area really serves the town.
TOWNS: tuple[tuple[str, str, str], ...] = (
    ("Newcastle upon Tyne", "NE", "England"),
    ("Sunderland", "SR", "England"),
    ("Durham", "DH", "England"),
    ("Carlisle", "CA", "England"),
    ("Lancaster", "LA", "England"),
    ("Preston", "PR", "England"),
    ("Liverpool", "L", "England"),
    ("Manchester", "M", "England"),
    ("Leeds", "LS", "England"),
    ("Bradford", "BD", "England"),
    ("York", "YO", "England"),
    ("Hull", "HU", "England"),
    ("Sheffield", "S", "England"),
    ("Chester", "CH", "England"),
    ("Stoke-on-Trent", "ST", "England"),
    ("Derby", "DE", "England"),
    ("Nottingham", "NG", "England"),
    ("Lincoln", "LN", "England"),
    ("Leicester", "LE", "England"),
    ("Birmingham", "B", "England"),
    ("Coventry", "CV", "England"),
    ("Worcester", "WR", "England"),
    ("Northampton", "NN", "England"),
    ("Norwich", "NR", "England"),
    ("Ipswich", "IP", "England"),
    ("Cambridge", "CB", "England"),
    ("Milton Keynes", "MK", "England"),
    ("Oxford", "OX", "England"),
    ("Gloucester", "GL", "England"),
    ("Bristol", "BS", "England"),
    ("Bath", "BA", "England"),
    ("Reading", "RG", "England"),
    ("Southampton", "SO", "England"),
    ("Brighton", "BN", "England"),
    ("Exeter", "EX", "England"),
    ("Plymouth", "PL", "England"),
    ("Truro", "TR", "England"),
    ("Swansea", "SA", "Wales"),
    ("Cardiff", "CF", "Wales"),
    ("Newport", "NP", "Wales"),
    ("Wrexham", "LL", "Wales"),
    ("Aberystwyth", "SY", "Wales"),
    ("Edinburgh", "EH", "Scotland"),
    ("Glasgow", "G", "Scotland"),
    ("Aberdeen", "AB", "Scotland"),
    ("Dundee", "DD", "Scotland"),
    ("Inverness", "IV", "Scotland"),
    ("Stirling", "FK", "Scotland"),
    ("Perth", "PH", "Scotland"),
    ("Belfast", "BT", "Northern Ireland"),
)

# The letters of a postcode's inward code never include C, I, K, M, O or V.
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

VEHICLES: tuple[tuple[str, str], ...] = (
    ("Ford", "Fiesta"),
    ("Ford", "Focus"),
    ("Ford", "Kuga"),
    ("Vauxhall", "Corsa"),
    ("Vauxhall", "Astra"),
    ("Volkswagen", "Golf"),
    ("Volkswagen", "Polo"),
    ("Nissan", "Qashqai"),
    ("Nissan", "Juke"),
    ("Toyota", "Yaris"),
    ("Toyota", "Corolla"),
    ("Kia", "Sportage"),
    ("Hyundai", "Tucson"),
    ("MINI", "Cooper"),
    ("BMW", "1 Series"),
    ("Audi", "A3"),
    ("Mercedes-Benz", "A-Class"),
    ("Peugeot", "208"),
    ("Skoda", "Octavia"),
    ("Tesla", "Model 3"),
    ("Honda", "Jazz"),
    ("Renault", "Clio"),
    ("Land Rover", "Defender"),
    ("Dacia", "Sandero"),
)

COLOURS: tuple[str, ...] = _words(
    """
    Black White Grey Silver Blue Red Green Orange Yellow Brown
    """
)

# The first letter of a number plate's memory tag names the region; I, Q, U and Z are not
# used there. The second letter names the office; I, Q and Z are not used there either.
PLATE_REGIONS = "ABCDEFGHKLMNOPRSTVWY"
PLATE_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXY"
PLATE_RANDOM_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"
