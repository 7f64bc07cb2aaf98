"""Word lists the generated rows draw from (plain words only: nothing to escape in COPY)."""

FIRST_NAMES = (  # noqa: SIM905  (one word list reads better than 50 lines)
    "Ada Alan Amara Ana Arjun Ava Ben Carla Chen Chloe Dara Diego Elena Emeka Eva Farah Felix "
    "Grace Hana Hugo Ines Isaac Jade Jonas Kai Kenji Lara Leo Lina Luca Maya Mei Mohamed Nadia "
    "Nina Noah Olga Omar Priya Rafael Rosa Sam Sara Sofia Tariq Tom Uma Vera Yusuf Zoe"
).split()
LAST_NAMES = (  # noqa: SIM905  (one word list reads better than 50 lines)
    "Adams Ahmed Alvarez Baker Becker Chen Costa Dubois Evans Fischer Garcia Gupta Hansen "
    "Ivanova Jensen Kim Kowalski Lee Lopez Martin Meyer Moreau Nakamura Novak Okafor Olsen "
    "Patel Perez Rossi Santos Schmidt Silva Singh Smith Tanaka Taylor Walker Wang Weber Wilson "
    "Yilmaz Young Zhang"
).split()
DOMAINS = ("example.com", "example.org", "example.net", "mail.example")
TITLES = (
    "Buy groceries",
    "Call the dentist",
    "Finish the quarterly report",
    "Review pull request",
    "Write blog post draft",
    "Fix the leaking tap",
    "Plan the team offsite",
    "Book flights",
    "Clean the garage",
    "Pay the electricity bill",
    "Prepare 1:1 notes",
    "Update the roadmap",
    "Read chapter 4",
    "File the tax return",
    "Renew passport",
    "Cancel gym membership",
    "Order a birthday gift",
    "Organize photos",
    "Send the invoice",
    "Renew car insurance",
    "Return library books",
    "Collect the package",
    "Sign the vendor contract",
    "Write release notes",
    "Update onboarding checklist",
    "Check the budget spreadsheet",
    "Make a dinner reservation",
    "Book vet appointment",
    "Review design mockups",
    "Test the database migration",
    "Rotate API keys",
    "Send interview feedback",
    "Rehearse conference talk",
    "Back up the laptop",
    "Water the plants",
    "Walk the dog",
    "Call mom",
    "Schedule car service",
    "Reply to the landlord",
    "Pick a paint colour",
    "Draft the project proposal",
    "Clean up the inbox",
    "Book a haircut",
    "Buy running shoes",
    "Submit expense report",
    "Plan weekend trip",
    "Fix the bike tyre",
    "Update resume",
    "Prepare slides for Monday",
    "Research new laptop",
    "Cancel unused subscriptions",
    "Refill prescription",
    "Defrost the freezer",
    "Pay the credit card",
    "Print boarding pass",
)
DESCRIPTIONS = (
    "Before the end of the week.",
    "Ask for the updated numbers first.",
    "See the thread from last Tuesday for context.",
    "Needs a second pair of eyes before it goes out.",
    "Low effort, just do it.",
    "Blocked until we hear back from the vendor.",
    "Split into smaller steps if it takes more than an hour.",
    "Remember to attach the receipt.",
    "Coordinate with the rest of the team on the shared calendar.",
    "Check the previous version for anything that was missed.",
)
TAGS = ("work", "home", "errand", "urgent", "health", "finance", "family", "reading", "later")
PRIORITY_WEIGHTS = (("low", 30), ("medium", 50), ("high", 20))
RECURRENCE_WEIGHTS = ((None, 88), ("daily", 3), ("weekly", 6), ("monthly", 3))
USER_PROMPTS = (
    "Can you help me plan my week?",
    "What should I focus on today?",
    "Add a task to call the dentist tomorrow.",
    "Summarize what I finished yesterday.",
    "Move my errands to Saturday.",
    "Which of my tasks are overdue?",
    "Remind me to renew my passport next month.",
    "Group my work tasks by priority.",
    "Mark the grocery task as done.",
    "What is on my list for the weekend?",
)
ASSISTANT_REPLIES = (
    "Sure. You have three high priority tasks: start with the quarterly report.",
    "Done. I added the task and set it for tomorrow morning.",
    "You finished four tasks yesterday, including the invoice and the library books.",
    "Here is a plan:\\n1. Morning: deep work\\n2. Afternoon: meetings\\n3. Evening: errands",
    "Two tasks are overdue: the electricity bill and the vet appointment.",
    "I moved your errands to Saturday and kept the urgent ones where they were.",
    "Your weekend list has the garage, the birthday gift and the dinner reservation.",
    "Marked as done. Nice work!",
    "I grouped them: 2 high, 5 medium and 3 low priority tasks.",
    "Reminder set for the first Monday of next month.",
)
